import Foundation
import Imaging
import Neural
import Slides
import Testing
import _TestSupport

/// The region list through the CLI: one ranking shared by summary.json, regions.geojson and
/// the report, and --min-region-cells leaving specks out while tiles.csv keeps every cell.
@Suite struct LesionListTests {
    let dir = TemporaryDirectory()

    func screen(_ extra: [String], out: String) throws -> URL {
        let model = dir.file("centre.hsmodel")
        if !FileManager.default.fileExists(atPath: model.path) { try SyntheticModel.centreDarkness().save(to: model) }
        let slide = dir.file("specks.tiff")
        if !FileManager.default.fileExists(atPath: slide.path) {
            let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 900, height: 600), tileSize: 128, micronsPerPixel: (0.972, 0.972))
            try TestSlides.writeSquares(to: slide, writer: writer, squares: [
                (PixelPoint(x: 64, y: 64), PixelSize(width: 160, height: 128)),    // 5 × 4 cells
                (PixelPoint(x: 320, y: 320), PixelSize(width: 32, height: 32)),    // one cell
                (PixelPoint(x: 608, y: 96), PixelSize(width: 96, height: 64)),     // 3 × 2 cells
                (PixelPoint(x: 800, y: 480), PixelSize(width: 32, height: 32)),    // one cell
            ], color: (120, 40, 120))
        }
        let result = try CLI.run(["screen", slide.path, "--model", model.path, "--out", dir.file(out).path, "--quiet", "--stride", "32",
                                  "--min-tissue", "0"] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return dir.file(out).appendingPathComponent("specks")
    }

    func json(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    @Test func oneRankingEverywhere() throws {
        let folder = try screen(["--tiles-geojson"], out: "all")
        let summary = try json(folder.appendingPathComponent("summary.json"))
        let regions = try #require(summary["regions"] as? [[String: Any]])
        #expect(regions.map { $0["cells"] as? Int } == [20, 6, 1, 1])
        #expect(regions.map { $0["rank"] as? Int } == [1, 2, 3, 4])
        let scores = regions.compactMap { $0["score"] as? Double }
        #expect(scores == scores.sorted(by: >))
        #expect(summary["largestLesionClass"] as? String == "itc")  // 5 cells of 31 µm: 0.2 mm is not reached
        let features = try #require(try json(folder.appendingPathComponent("regions.geojson"))["features"] as? [[String: Any]])
        let ranks = features.map { (($0["properties"] as? [String: Any])?["measurements"] as? [String: Double])?["Rank"] }
        #expect(ranks == [1, 2, 3, 4])
        let cells = features.map { (($0["properties"] as? [String: Any])?["measurements"] as? [String: Double])?["Cells"] }
        #expect(cells == [20, 6, 1, 1])
        // The report's table lists them in the same order, with the same numbers.
        let report = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        let rows = report.components(separatedBy: "<tr><td>").dropFirst().map { $0.prefix { $0 != "<" } }
        #expect(rows == ["1", "2", "3", "4"])
        // Every screened cell is a QuPath tile.
        let tiles = try #require(try json(folder.appendingPathComponent("tiles.geojson"))["features"] as? [[String: Any]])
        let csv = try String(contentsOf: folder.appendingPathComponent("tiles.csv"), encoding: .utf8)
        #expect(tiles.count == csv.split(separator: "\n").count - 1)
        #expect((summary["outputs"] as? [String])?.contains("tiles.geojson") == true)
        #expect((summary["outputs"] as? [String])?.contains("viewer.html") == false)
    }

    @Test func minimumRegionCells() throws {
        let all = try screen([], out: "all")
        let some = try screen(["--min-region-cells", "2"], out: "some")
        let regions = try #require(try json(some.appendingPathComponent("summary.json"))["regions"] as? [[String: Any]])
        #expect(regions.map { $0["cells"] as? Int } == [20, 6])
        #expect(try json(some.appendingPathComponent("summary.json"))["regionCount"] as? Int == 2)
        #expect(try Data(contentsOf: all.appendingPathComponent("tiles.csv")) == Data(contentsOf: some.appendingPathComponent("tiles.csv")))
        let bad = try CLI.run(["screen", dir.file("specks.tiff").path, "--out", dir.file("x").path, "--min-region-cells", "0"])
        #expect(bad.status == 64 && bad.stderr.contains("--min-region-cells must be at least 1"))
    }
}
