import Foundation
import Imaging
import Neural
@testable import Screening
import Slides
import Testing
import _TestSupport

/// Screening on generated slides whose purple squares sit at known cells, read through the
/// real OpenSlide, with a model whose output is a known function of the window's centre.
@Suite struct ScreeningGeometryTests {
    static let purple: (UInt8, UInt8, UInt8) = (120, 40, 120)
    let dir = TemporaryDirectory()

    func slide(_ name: String, size: PixelSize, mpp: Double, levels: Int = 1,
               squares: [(PixelPoint, PixelSize)]) throws -> any Slide {
        let url = dir.file(name)
        let writer = PyramidalTIFFWriter(sizeLevel0: size, levelCount: levels, tileSize: 128, compression: .deflate,
                                         micronsPerPixel: (mpp, mpp))
        try TestSlides.writeSquares(to: url, writer: writer, squares: squares.map { ($0.0, $0.1) }, color: Self.purple)
        return try openSlide(at: url)
    }

    func screen(_ slide: any Slide, stride: Int, model: ModelBundle? = nil, minimumTissue: Double = 0) throws -> ScreenResult {
        var options = ScreenOptions()
        options.stride = stride
        options.minimumTissue = minimumTissue
        return try Screener(bundle: model ?? SyntheticModel.centreDarkness()).screen(slide, options: options)
    }

    func positives(_ r: ScreenResult) -> Set<[Int]> {
        Set(r.probabilities.indices.filter { (r.probabilities[$0] ?? 0) >= 0.5 }.map { [$0 % r.grid.columns, $0 / r.grid.columns] })
    }

    /// Stride 32: each cell is scored by the window centred on it, so exactly the cells
    /// covered by squares are positive, including a partial cell at the slide's right edge.
    @Test func stride32CellsMatchSquares() throws {
        let s = try slide("s32.tiff", size: PixelSize(width: 500, height: 400), mpp: 0.972, squares: [
            (PixelPoint(x: 96, y: 64), PixelSize(width: 32, height: 32)),    // cell (3, 2)
            (PixelPoint(x: 256, y: 160), PixelSize(width: 64, height: 64)),  // cells (8…9, 5…6)
            (PixelPoint(x: 480, y: 320), PixelSize(width: 20, height: 32)),  // the last column's cell, 20 of its 32 px inside
        ])
        let r = try screen(s, stride: 32)
        #expect(r.grid.columns == 16 && r.grid.rows == 13)
        #expect(r.plan.level == 0 && abs(r.plan.levelPixelsPerTargetX - 1) < 1e-6)  // TIFF tags store the µm/px as float32
        #expect(r.screenedCells == 16 * 13)
        #expect(positives(r) == [[3, 2], [8, 5], [9, 5], [8, 6], [9, 6], [15, 10]])
        // Everything else is far from the threshold: no window is shifted by a pixel.
        let negatives = r.probabilities.compactMap { $0 }.filter { $0 < 0.5 }
        #expect(negatives.allSatisfy { $0 < 1e-3 })
        // The edge cell's centre is 20/32 purple; beyond the slide the window sees white.
        let edge = Double(r.probabilities[10 * 16 + 15]!)
        let darkness = (1 - 40.0 / 255) * 20 / 32
        #expect(abs(edge - 1 / (1 + exp(-40 * (darkness - 0.4)))) < 1e-3)
    }

    @Test func stride96And48() throws {
        let s = try slide("s96.tiff", size: PixelSize(width: 400, height: 300), mpp: 0.972, squares: [
            (PixelPoint(x: 96 + 32, y: 96 + 32), PixelSize(width: 32, height: 32)),  // the centre of cell (1, 1) at stride 96
        ])
        let r96 = try screen(s, stride: 96)
        #expect(r96.grid.columns == 5 && r96.grid.rows == 4)
        #expect(positives(r96) == [[1, 1]])
        // At stride 48 the same square is the centre region of cells (2…3, 2…3) in halves: each
        // of those windows' centres holds a quarter of it.
        let r48 = try screen(s, stride: 48)
        #expect(r48.grid.columns == 9 && r48.grid.rows == 7)
        let quarter = r48.probabilities[2 * 9 + 2]!
        let expected = 1 / (1 + exp(-40 * ((1 - 40.0 / 255) * 0.25 - 0.4)))
        #expect(abs(Double(quarter) - expected) < 1e-3)
        // The cell whose window centre is entirely inside the square: none at stride 48 (the
        // square straddles cells), so nothing passes the threshold.
        #expect(positives(r48).isEmpty)
    }

    /// A slide at twice the model's resolution is area-resampled to it: the same cells light up.
    @Test func resamplesToTheModelResolution() throws {
        let s = try slide("fine.tiff", size: PixelSize(width: 1000, height: 800), mpp: 0.486, squares: [
            (PixelPoint(x: 192, y: 128), PixelSize(width: 64, height: 64)),  // cell (3, 2) at stride 32
        ])
        let r = try screen(s, stride: 32)
        #expect(abs(r.plan.levelPixelsPerTargetX - 2) < 1e-6)
        #expect(positives(r) == [[3, 2]])
        let c = r.grid.cellLevel0(column: 3, row: 2)
        #expect(abs(c.x - 192) < 1e-3 && abs(c.y - 128) < 1e-3 && abs(c.width - 64) < 1e-3)
    }

    /// The level closest to the model's resolution and no coarser.
    @Test func picksTheLevel() throws {
        let s = try slide("pyramid.tiff", size: PixelSize(width: 2048, height: 1024), mpp: 0.25, levels: 3, squares: [])
        let grid = TileGrid(sizeLevel0: s.metadata.sizeLevel0, mppX: 0.25, mppY: 0.25, targetMPP: 0.972, stride: 96)
        let plan = ReadPlan(slide: s, grid: grid)
        #expect(plan.level == 1)  // 0.5 µm/px; level 2 (1.0 µm/px) would be coarser than 0.972
        #expect(abs(plan.levelPixelsPerTargetX - 0.972 / 0.5) < 1e-9)
        let exact = TileGrid(sizeLevel0: s.metadata.sizeLevel0, mppX: 0.243, mppY: 0.243, targetMPP: 0.972, stride: 96)
        #expect(ReadPlan(slide: s, grid: exact).level == 2)
    }

    @Test func regionsAndGeoJSONInLevel0Pixels() throws {
        let s = try slide("regions.tiff", size: PixelSize(width: 500, height: 400), mpp: 0.972, squares: [
            (PixelPoint(x: 96, y: 64), PixelSize(width: 32, height: 32)),
            (PixelPoint(x: 256, y: 160), PixelSize(width: 64, height: 64)),
        ])
        let r = try screen(s, stride: 32)
        let regions = Regions.find(r)
        #expect(regions.count == 2)
        let cellMM2: Double = (32 * 0.972 / 1000) * (32 * 0.972 / 1000)
        #expect(abs(regions[0].areaMM2 / (4 * cellMM2) - 1) < 1e-6)
        #expect(abs(regions[1].areaMM2 / cellMM2 - 1) < 1e-6)
        func near(_ a: [[[Double]]], _ b: [[[Double]]]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { r, s in
                r.count == s.count && zip(r, s).allSatisfy { abs($0[0] - $1[0]) < 1e-3 && abs($0[1] - $1[1]) < 1e-3 }
            }
        }
        #expect(near(regions[0].rings, [[[256, 160], [320, 160], [320, 224], [256, 224], [256, 160]]]), "\(regions[0].rings)")
        #expect(abs(regions[0].centroid[0] - 288) < 1e-3 && abs(regions[0].centroid[1] - 192) < 1e-3)
        // The direct writer escapes names and parses back to the regions' numbers.
        for name in ["regions", "a \"quoted\" \\ name\twith µm"] {
            let back = try #require(try JSONSerialization.jsonObject(with: Data(QuPathGeoJSON.regions(regions, slideName: name))) as? [String: Any])
            #expect(back["type"] as? String == "FeatureCollection")
            let features = try #require(back["features"] as? [[String: Any]])
            #expect(features.count == 2)
            let properties = try #require(features[0]["properties"] as? [String: Any])
            #expect((properties["classification"] as? [String: Any])?["name"] as? String == "Tumor")
            let measurements = try #require(properties["measurements"] as? [String: Double])
            #expect(measurements["Rank"] == 1 && abs(measurements["Area mm^2"]! / regions[0].areaMM2 - 1) < 1e-12 && measurements["Cells"] == 4)
            let rings = try #require((features[0]["geometry"] as? [String: Any])?["coordinates"] as? [[[Double]]])
            #expect(near(rings, regions[0].rings))
        }
    }

    @Test func ringWithAHole() {
        // A 3×3 block of cells with the centre missing: an outline and one hole.
        let grid = TileGrid(sizeLevel0: PixelSize(width: 320, height: 320), mppX: 0.972, mppY: 0.972, targetMPP: 0.972, stride: 32)
        var probabilities = [Float?](repeating: 0, count: grid.cellCount)
        for y in 1...3 { for x in 1...3 where !(x == 2 && y == 2) { probabilities[y * grid.columns + x] = 0.9 } }
        let mask = TissueMask(width: 1, height: 1, downsampleX: 320, downsampleY: 320, isTissue: [true],
                              thumbnail: Raster(width: 1, height: 1), saturationThreshold: 0)
        let result = ScreenResult(grid: grid, plan: ReadPlan(level: 0, downsample: 1, levelPixelsPerTargetX: 1, levelPixelsPerTargetY: 1), mask: mask, resolutionSource: .user,
                                  tissueFractions: [Double](repeating: 1, count: grid.cellCount), probabilities: probabilities,
                                  threshold: 0.5, readSeconds: 0, inferenceSeconds: 0, totalSeconds: 0)
        let regions = Regions.find(result)
        #expect(regions.count == 1)
        #expect(regions[0].rings.count == 2)
        #expect(regions[0].rings[0] == [[32, 32], [128, 32], [128, 128], [32, 128], [32, 32]])
        #expect(Set(regions[0].rings[1].map { $0 }) == Set([[64, 64], [96, 64], [96, 96], [64, 96]]))
    }
}

/// The tissue mask's morphology against plain definitions.
@Suite struct MorphologyTests {
    /// Dilation by a (2r+1)² square: a pixel is set when any pixel within Chebyshev distance r
    /// is, checked by brute force on seeded random masks, including radii beyond the mask.
    @Test(arguments: [0, 1, 2, 5, 40])
    func dilationMatchesBruteForce(radius r: Int) {
        var g = SplitMix64(seed: UInt64(100 + r))
        let (w, h) = (37, 23)
        let m = (0..<(w * h)).map { _ in Float.random(in: 0..<1, using: &g) < 0.04 }
        let got = Morphology.dilate(m, width: w, height: h, radius: r)
        var expected = [Bool](repeating: false, count: m.count)
        for y in 0..<h {
            for x in 0..<w {
                expected[y * w + x] = (max(0, y - r)...min(h - 1, y + r)).contains { yy in
                    (max(0, x - r)...min(w - 1, x + r)).contains { m[yy * w + $0] }
                }
            }
        }
        #expect(got == expected)
        #expect(Morphology.erode(m, width: w, height: h, radius: r) == Morphology.dilate(m.map { !$0 }, width: w, height: h, radius: r).map { !$0 })
    }
}
