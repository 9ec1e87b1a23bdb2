import Foundation
import Imaging
import Neural
import Slides
import Testing
import _TestSupport

/// `histoscreen calibrate`, then `screen --operating-point`, end to end with a synthetic model
/// on real PCam patches.
@Suite struct CalibrateCommandTests {
    let dir = TemporaryDirectory()
    let mini = TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path

    func manifest(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("model.json"))) as? [String: Any])
    }

    @Test func calibrateThenScreenAtEachOperatingPoint() throws {
        let plain = dir.file("plain.hsmodel")
        try SyntheticModel.centreDarkness().save(to: plain)
        let calibrated = dir.file("calibrated.hsmodel")
        let result = try CLI.run(["calibrate", plain.path, "--val-data", mini, "--out", calibrated.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((report["patches"] as? Int) == 200)
        #expect((report["logLossAfter"] as? Double)! <= (report["logLossBefore"] as? Double)! + 1e-12)
        let points = try #require(try manifest(calibrated)["operatingPoints"] as? [String: Any])
        let balanced = try #require(points["balanced"] as? Double), screening = try #require(points["screening"] as? Double)
        #expect(points["defaultPoint"] as? String == "screening")
        #expect(try manifest(calibrated)["threshold"] as? Double == screening)
        #expect(try manifest(plain)["operatingPoints"] == nil)  // --out leaves the original alone

        let slide = dir.file("slide.tiff")
        try TestSlides.writeSquares(to: slide, writer: PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 300, height: 200), tileSize: 128,
                                                                          micronsPerPixel: (0.972, 0.972)),
                                    squares: [(PixelPoint(x: 0, y: 0), PixelSize(width: 150, height: 200))], color: (120, 40, 120))
        for (point, expected) in [("balanced", balanced), ("screening", screening)] {
            let out = dir.file("out-\(point)")
            let run = try CLI.run(["screen", slide.path, "--model", calibrated.path, "--operating-point", point, "--out", out.path, "--quiet"])
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("slide/summary.json"))) as? [String: Any])
            #expect(summary["threshold"] as? Double == expected)
        }
        // A bundle without operating points says so, and how to get them.
        let refused = try CLI.run(["screen", slide.path, "--model", plain.path, "--operating-point", "balanced", "--out", dir.file("x").path, "--quiet"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("carries no operating points") && refused.stderr.contains("histoscreen calibrate"))
        let both = try CLI.run(["screen", slide.path, "--threshold", "0.5", "--operating-point", "balanced", "--out", dir.file("y").path])
        #expect(both.status != 0 && both.stderr.contains("not both"))
    }
}
