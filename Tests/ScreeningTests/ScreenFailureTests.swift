import Foundation
import Imaging
import Neural
@testable import Screening
import Slides
import Testing
import _TestSupport

@Suite struct ScreenFailureTests {
    let dir = TemporaryDirectory()

    func write(_ name: String, mpp: (Double, Double)?, color: (UInt8, UInt8, UInt8)? = nil) throws -> URL {
        let url = dir.file(name)
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 300, height: 200), tileSize: 128, micronsPerPixel: mpp)
        try TestSlides.writeSquares(to: url, writer: writer, squares: color == nil ? [] : [(PixelPoint(x: 0, y: 0), PixelSize(width: 150, height: 200))],
                                    color: color ?? (0, 0, 0))
        return url
    }

    /// All glass: a valid summary with zero tiles, not a crash.
    @Test func noTissueGivesAnEmptyValidResult() throws {
        let slide = try openSlide(at: try write("glass.tiff", mpp: (0.972, 0.972)))
        let bundle = try SyntheticModel.centreDarkness()
        let result = try Screener(bundle: bundle).screen(slide, options: ScreenOptions())
        #expect(result.screenedCells == 0)
        let model = ScreenSummary.Model(name: "m", path: "m", sha256: "x", architecture: "a", micronsPerPixel: 0.972)
        let summary = try ScreenWriter.write(result: result, slide: slide, model: model, options: ScreenOptions(),
                                             toolVersion: "test", to: dir.file("out"))
        #expect(summary.tiles.withTissue == 0 && summary.regionCount == 0 && summary.tumourFraction == 0)
        #expect(summary.maxProbability == nil)
        for file in ScreenWriter.files {
            #expect(FileManager.default.fileExists(atPath: dir.file("out/glass/\(file)").path), "\(file)")
        }
        let geo = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.file("out/glass/regions.geojson"))) as? [String: Any]
        #expect((geo?["features"] as? [Any])?.isEmpty == true)
    }

    @Test func missingResolutionSaysHowToPassIt() throws {
        let slide = try openSlide(at: try write("nompp.tiff", mpp: nil, color: (120, 40, 120)))
        #expect {
            try Screener(bundle: try SyntheticModel.centreDarkness()).screen(slide, options: ScreenOptions())
        } throws: { error in
            let text = "\(error)"
            return text.contains("no µm per pixel") && text.contains("--mpp")
        }
        // With --mpp the same slide screens, and the source is recorded.
        var options = ScreenOptions()
        options.mppOverride = 0.972
        let result = try Screener(bundle: try SyntheticModel.centreDarkness()).screen(slide, options: options)
        #expect(result.resolutionSource == .user)
        #expect(result.screenedCells > 0)
    }

    @Test func outputFolderProblemsAreCaughtFirst() throws {
        let file = dir.file("plain-file")
        try Data("x".utf8).write(to: file)
        #expect(throws: ScreenError.self) { try ScreenWriter.prepare(file) }
        #expect(throws: ScreenError.self) { try ScreenWriter.prepare(file.appendingPathComponent("below")) }
        try ScreenWriter.prepare(dir.file("fresh/nested"))
        #expect(FileManager.default.fileExists(atPath: dir.file("fresh/nested").path))
    }

    /// Glass, black out-of-scan areas and blue pen are not tissue; pink-purple stain is.
    @Test func tissueMaskRejectsGlassBlackAndPen() {
        var image = Raster(width: 120, height: 80, channels: 3, fill: [242, 242, 240])         // glass
        func paint(_ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ c: [UInt8]) {
            for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { image.pixels.replaceSubrange(((y * 120 + x) * 3)..<((y * 120 + x) * 3 + 3), with: c) } }
        }
        paint(10, 10, 40, 40, [200, 120, 180])   // H&E-like tissue
        paint(60, 10, 20, 60, [10, 10, 12])      // out-of-scan black
        paint(90, 10, 20, 60, [30, 60, 200])     // blue pen
        let mask = TissueMask.detect(thumbnail: image, downsampleX: 1, downsampleY: 1)
        #expect(mask.fraction(x: 10, y: 10, width: 40, height: 40) > 0.95)
        #expect(mask.fraction(x: 60, y: 10, width: 20, height: 60) == 0)
        #expect(mask.fraction(x: 90, y: 10, width: 20, height: 60) == 0)
        #expect(mask.fraction(x: 0, y: 60, width: 50, height: 20) == 0)
    }

    @Test func otsuSplitsTwoModes() {
        var histogram = [Int](repeating: 0, count: 256)
        histogram[20] = 100; histogram[200] = 50
        let t = TissueMask.otsuThreshold(histogram)
        #expect(t > 20 && t <= 200)
    }

    @Test func tissueOnTheSampleSlide() throws {
        let mask = try TissueMask.detect(try openSlide(at: TestPaths.cmuSlide))
        #expect(mask.tissueFraction > 0.2 && mask.tissueFraction < 0.7, "tissue fraction \(mask.tissueFraction)")
    }
}
