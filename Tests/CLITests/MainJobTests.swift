import Foundation
import Testing
import _TestSupport

/// The README's main job: the sample slide screened with the bundled model, found by default.
@Suite struct MainJobTests {
    @Test func screensTheSampleSlideWithTheBundledModel() throws {
        let dir = TemporaryDirectory()
        let result = try CLI.run(["screen", TestPaths.cmuSlide.path, "--out", dir.file("out").path, "--stride", "32", "--viewer",
                                  "--json", "--quiet"], in: TestPaths.repositoryRoot)
        #expect(result.status == 0, "\(result.stderr)")
        let s = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let model = try #require(s["model"] as? [String: Any])
        #expect(model["name"] as? String == "histoscreen-pcam")
        #expect(model["path"] as? String == "Samples/models/histoscreen-pcam.hsmodel")
        let slide = try #require(s["slide"] as? [String: Any])
        #expect(slide["mppSource"] as? String == "openslide.mpp")
        #expect(slide["mppX"] as? Double == 0.499)
        let tiles = try #require(s["tiles"] as? [String: Any])
        #expect((tiles["withTissue"] as? Int ?? 0) > 20)
        for file in ["report.html", "probability.tif", "regions.geojson", "viewer.html", "viewer.dzi", "viewer_files/0/0_0.jpg"] {
            #expect(FileManager.default.fileExists(atPath: dir.file("out/CMU-1-Small-Region/\(file)").path), "\(file)")
        }
        #expect(s["largestLesionClass"] is String)
        #expect((s["regions"] as? [[String: Any]])?.count == s["regionCount"] as? Int)
    }

    @Test func bundledModelRecordsItsProvenance() throws {
        let url = TestPaths.samples.appendingPathComponent("models/histoscreen-pcam.hsmodel/model.json")
        let m = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let training = try #require(m["training"] as? [String: Any])
        let split = try #require(training["split"] as? [String: Any])
        // The committed dataset manifest is the one the model was trained with.
        #expect(split["path"] as? String == "Samples/datasets/pcam-slide-level.csv")
        #expect(split["sha256"] as? String == SHA256Hex.file(TestPaths.samples.appendingPathComponent("datasets/pcam-slide-level.csv")))
        #expect((m["metrics"] as? [String: Any])?["validation"] != nil)
        #expect(m["micronsPerPixel"] as? Double == 0.972)
        // Calibrated, with both operating points chosen on slide-level validation data.
        let points = try #require(m["operatingPoints"] as? [String: Any])
        #expect(points["defaultPoint"] as? String == "screening")
        #expect((points["chosenOn"] as? String)?.contains("pcam-slide-level.csv") == true)
        #expect(m["threshold"] as? Double == points["screening"] as? Double)
        #expect((m["calibration"] as? [String: Any])?["temperature"] != nil)
    }
}

import Imaging
enum SHA256Hex {
    static func file(_ url: URL) -> String? { SHA256.hex(fileAt: url) }
}
