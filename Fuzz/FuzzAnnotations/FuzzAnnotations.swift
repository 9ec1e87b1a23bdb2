import Foundation
import Screening

/// libFuzzer target: arbitrary bytes as ground-truth annotations (GeoJSON or ASAP XML), then
/// evaluated against a small screen; and as a screen's tiles.csv. Each must be read or refused
/// with an error, never trap.
let folder: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("histoscreen-fuzz-annotations-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    // A screen result of a 192 × 96-pixel slide at stride 96: two cells.
    let summary = """
        {"status":"ok","slide":{"path":"s.tif","name":"s","hash":"0","hashAlgorithm":"sha256","format":"tiff","widthLevel0":192,\
        "heightLevel0":96,"mppX":0.972,"mppY":0.972,"mppSource":"user","levelUsed":0,"levelDownsample":1},\
        "tiles":{"total":2,"withTissue":2,"positive":1,"cellWidthLevel0":96,"cellHeightLevel0":96},"tumourFraction":0.5,\
        "tissueAreaMM2":0.017,"positiveAreaMM2":0.009,"maxProbability":0.9,"largestRegionMM2":0.009,"regionCount":1,"threshold":0.5,\
        "model":{"name":"m","path":"m","sha256":"0","architecture":"x","micronsPerPixel":0.972},"tool":{"name":"histoscreen"},\
        "parameters":{"stride":96,"testTimeAugmentation":false,"minimumTissue":0.5,"batchSize":64},\
        "timings":{"tissueSeconds":0,"readSeconds":0,"inferenceSeconds":0,"writeSeconds":0,"totalSeconds":0,"tilesPerSecond":0},"outputs":[]}
        """
    try? Data(summary.utf8).write(to: url.appendingPathComponent("summary.json"))
    return url
}()

let screened: LesionEvaluation.Screened? = {
    let tiles = "x,y,width,height,row,column,tissue_fraction,probability\n0,0,96,96,0,0,1.0,0.9\n96,0,96,96,0,1,1.0,0.1\n"
    try? Data(tiles.utf8).write(to: folder.appendingPathComponent("tiles.csv"))
    return try? LesionEvaluation.Screened.load(folder)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnnotations(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? Data() : Data(bytes: data!, count: size)
    let truth = folder.appendingPathComponent("truth.geojson")
    guard let screened, (try? bytes.write(to: truth)) != nil else { return 0 }
    if let annotations = try? TruthAnnotations.read(truth) {
        _ = LesionEvaluation.evaluate([(screened, annotations, "truth.geojson")], resamples: 10)
    }
    let other = folder.appendingPathComponent("other")
    try? FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
    try? FileManager.default.copyItem(at: folder.appendingPathComponent("summary.json"), to: other.appendingPathComponent("summary.json"))
    if (try? bytes.write(to: other.appendingPathComponent("tiles.csv"))) != nil, let s = try? LesionEvaluation.Screened.load(other) {
        _ = LesionEvaluation.evaluate([(s, nil, nil)], resamples: 10)
    }
    return 0
}
