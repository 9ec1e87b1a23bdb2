import Foundation
import Imaging
import Neural
import Slides
import Testing
import _TestSupport

/// A 9-class tissue-type model (NCT-CRC-HE-100K convention: 224 px at 0.5 µm/px) screening a
/// slide made of the nine real NCT patches in ../shared: per-class probabilities in tiles.csv
/// match onnxruntime's for each patch, the positive class drives the tumour fraction, and the
/// class map and per-class heatmaps are written.
@Suite struct MultiClassTests {
    let dir = TemporaryDirectory()
    static let samples = TestPaths.sharedData.appendingPathComponent("nct-crc-he-samples")
    static let available = FileManager.default.fileExists(atPath: samples.appendingPathComponent("labels.csv").path)

    struct Reference: Decodable { var classes: [String]; var files: [String]; var labels: [String]; var probabilities: [[Double]] }

    @Test(.enabled(if: available, "../shared/data/nct-crc-he-samples is not beside the checkout"))
    func nineClassModelOnRealPatches() throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: TestPaths.fixtures.appendingPathComponent("onnx/nct9.samples.json")))
        // The nine patches in a 3 × 3 mosaic, in file order, exactly as stored.
        var patches: [Raster] = []
        for file in reference.files {
            let slide = try openSlide(at: Self.samples.appendingPathComponent(file))
            patches.append(try slide.readRegion(originLevel0: PixelPoint(x: 0, y: 0), level: 0, sizeAtLevel: slide.metadata.sizeLevel0))
        }
        let url = dir.file("nct-mosaic.tiff")
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 672, height: 672), tileSize: 224, micronsPerPixel: (0.5, 0.5))
        try writer.write(to: url) { _, origin, size in
            let k = (origin.y / 224) * 3 + origin.x / 224
            #expect(size == PixelSize(width: 224, height: 224))
            return patches[k]
        }
        let classes = reference.classes.joined(separator: ",")
        let out = dir.file("out")
        let result = try CLI.run(["screen", url.path, "--model", TestPaths.fixtures.appendingPathComponent("onnx/nct9.onnx").path,
                                  "--model-mpp", "0.5", "--normalization", "imagenet", "--classes", classes, "--positive", "TUM",
                                  "--min-tissue", "0", "--out", out.path, "--quiet", "--json", "--class-heatmaps", "TUM,STR"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["positiveClass"] as? String == "TUM")
        #expect(summary["classes"] as? [String] == reference.classes)
        let fractions = try #require(summary["classFractions"] as? [String: Double])
        #expect(abs(fractions.values.reduce(0, +) - 1) < 1e-9)
        for file in ["classmap.png", "heatmap-TUM.png", "heatmap-STR.png"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("nct-mosaic/\(file)").path), "\(file)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("nct-mosaic/heatmap-ADI.png").path))

        // tiles.csv: one cell per patch (the window is the patch), every class's probability.
        let csv = try String(contentsOf: out.appendingPathComponent("nct-mosaic/tiles.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(Array(header.suffix(9)) == reference.classes.map { "p_\($0)" })
        #expect(lines.count == 10)
        var worst = 0.0
        for line in lines.dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            let k = Int(f[4])! * 3 + Int(f[5])!
            let ours = f.suffix(9).map { Double($0)! }
            for (a, b) in zip(ours, reference.probabilities[k]) { worst = max(worst, abs(a - b)) }
            #expect(Double(f[7])! == ours[8], "probability is P(TUM)")
        }
        #expect(worst <= 1e-4, "worst difference from onnxruntime \(worst)")

        // Another positive class on the same model; a name it does not have is refused.
        let other = try CLI.run(["screen", url.path, "--model", TestPaths.fixtures.appendingPathComponent("onnx/nct9.onnx").path,
                                 "--model-mpp", "0.5", "--normalization", "imagenet", "--classes", classes, "--positive", "LYM",
                                 "--min-tissue", "0", "--out", dir.file("other").path, "--quiet", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(other.stdout.utf8)) as? [String: Any])?["positiveClass"] as? String == "LYM")
        let wrong = try CLI.run(["screen", url.path, "--model", TestPaths.fixtures.appendingPathComponent("onnx/nct9.onnx").path,
                                 "--model-mpp", "0.5", "--normalization", "imagenet", "--classes", classes, "--positive", "FAT",
                                 "--out", dir.file("wrong").path, "--quiet"])
        #expect(wrong.status == 1 && wrong.stderr.contains("--positive FAT is not one of"))
    }
}
