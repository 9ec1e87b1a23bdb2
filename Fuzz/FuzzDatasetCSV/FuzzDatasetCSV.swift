import Foundation
import Training

/// libFuzzer target: arbitrary bytes as a dataset CSV, a dataset manifest and a split file.
/// Each must open or throw a DatasetError, never trap.
let folder: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("histoscreen-fuzz-csv-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDatasetCSV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? Data() : Data(bytes: data!, count: size)
    let file = folder.appendingPathComponent("labels.csv")
    guard (try? bytes.write(to: file)) != nil else { return 0 }
    _ = CSV.parse(String(decoding: bytes, as: UTF8.self))
    if let dataset = try? PatchDataset.open(file.path, skipMissing: true) {
        _ = try? DatasetSplit.read(file.path, for: dataset)
    }
    _ = try? DatasetManifest.read(file.path)
    return 0
}
