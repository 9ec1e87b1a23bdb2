import Foundation
import Imaging
import Neural
import Slides
import Testing
import _TestSupport

/// `histoscreen screen` end to end, through the built executable, with a synthetic model.
@Suite struct ScreenCommandTests {
    let dir = TemporaryDirectory()

    func model() throws -> String {
        let url = dir.file("centre.hsmodel")
        try SyntheticModel.centreDarkness().save(to: url)
        return url.path
    }

    func slide(_ name: String, mpp: Double? = 0.972) throws -> String {
        let url = dir.file(name)
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 400, height: 300), tileSize: 128,
                                         micronsPerPixel: mpp.map { ($0, $0) })
        try TestSlides.writeSquares(to: url, writer: writer, squares: [(PixelPoint(x: 0, y: 0), PixelSize(width: 200, height: 300))],
                                    color: (120, 40, 120))
        return url.path
    }

    @Test func aBadSlideDoesNotStopTheOthers() throws {
        let corrupt = dir.file("corrupt.svs")
        try Data(repeating: 0x49, count: 1000).write(to: corrupt)
        let out = dir.file("out")
        let result = try CLI.run(["screen", try slide("a.tiff"), corrupt.path, try slide("b.tiff"), "--model", try model(),
                                  "--out", out.path, "--json", "--quiet"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(corrupt.path): "))
        let items = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(items.count == 3)
        #expect(items.filter { $0["status"] as? String == "ok" }.count == 2)
        #expect(items.contains { $0["status"] as? String == "error" && ($0["slide"] as? String) == corrupt.path })
        for name in ["a", "b"] {
            for file in ["summary.json", "report.html", "overlay.png", "heatmap.png", "tiles.csv", "regions.geojson", "tissue.png"] {
                #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("\(name)/\(file)").path), "\(name)/\(file)")
            }
        }
        // Nothing half-written is left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test func jsonSummaryForOneSlide() throws {
        let result = try CLI.run(["screen", try slide("one.tiff"), "--model", try model(), "--out", dir.file("o").path,
                                  "--json", "--quiet", "--stride", "32"])
        #expect(result.status == 0, "\(result.stderr)")
        let s = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let slide = try #require(s["slide"] as? [String: Any])
        #expect(slide["mppSource"] as? String == "tiff.resolution")
        #expect((s["parameters"] as? [String: Any])?["stride"] as? Int == 32)
        let tiles = try #require(s["tiles"] as? [String: Any])
        #expect((tiles["withTissue"] as? Int ?? 0) > 0)
        #expect(s["tumourFraction"] as? Double != nil)
        #expect((s["timings"] as? [String: Any])?["inferenceSeconds"] != nil)
        #expect(result.stderr.isEmpty, "--quiet prints no progress: \(result.stderr)")
    }

    @Test func unwritableOutputFailsBeforeAnyWork() throws {
        let blocker = dir.file("blocker")
        try Data("x".utf8).write(to: blocker)
        let result = try CLI.run(["screen", try slide("x.tiff"), "--model", try model(), "--out", blocker.appendingPathComponent("sub").path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot create the output folder"))
        #expect(result.stdout.isEmpty)
    }

    @Test func slideWithoutMPPNeedsTheOption() throws {
        let path = try slide("nompp.tiff", mpp: nil)
        let failing = try CLI.run(["screen", path, "--model", try model(), "--out", dir.file("n").path, "--quiet"])
        #expect(failing.status == 1)
        #expect(failing.stderr.contains("--mpp"))
        let passing = try CLI.run(["screen", path, "--model", try model(), "--out", dir.file("n").path, "--quiet", "--mpp", "0.972"])
        #expect(passing.status == 0, "\(passing.stderr)")
        let summary = try String(contentsOf: dir.file("n/nompp/summary.json"), encoding: .utf8)
        #expect(summary.contains("\"mppSource\" : \"user\""))
    }
}
