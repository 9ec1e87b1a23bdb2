import Foundation
import Imaging
import Neural
@testable import Screening
import Slides
import Testing
import _TestSupport

/// Ranked lesions, their Camelyon classes, QuPath-native GeoJSON, and probability.tif.
@Suite struct LesionOutputTests {
    let dir = TemporaryDirectory()

    /// A grid of 32-px cells at 0.972 µm/px (31.1 µm cells) with the given positive cells.
    static func result(columns: Int = 100, rows: Int = 20, cells: [(Int, Int, Float)], threshold: Double = 0.5) -> ScreenResult {
        let grid = TileGrid(sizeLevel0: PixelSize(width: columns * 32, height: rows * 32), mppX: 0.972, mppY: 0.972,
                            targetMPP: 0.972, stride: 32)
        var probabilities = [Float?](repeating: 0.1, count: grid.cellCount)
        for (x, y, p) in cells { probabilities[y * grid.columns + x] = p }
        let mask = TissueMask(width: 1, height: 1, downsampleX: Double(columns * 32), downsampleY: Double(rows * 32), isTissue: [true],
                              thumbnail: Raster(width: 1, height: 1), saturationThreshold: 0)
        return ScreenResult(grid: grid, plan: ReadPlan(level: 0, downsample: 1, levelPixelsPerTargetX: 1, levelPixelsPerTargetY: 1),
                            mask: mask, resolutionSource: .user, tissueFractions: [Double](repeating: 1, count: grid.cellCount),
                            probabilities: probabilities, threshold: threshold, readSeconds: 0, inferenceSeconds: 0, totalSeconds: 0)
    }

    /// A 10-cell line at p 0.6 (score 6 cell areas), a 2-cell pair at 0.9 (1.8), a single cell
    /// at 1.0 (1.0) and a 70-cell line at 0.55 (38.5): ranked by score, not by peak.
    static let cellMM2 = (32 * 0.972 / 1000) * (32 * 0.972 / 1000)
    static func fourRegions() -> ScreenResult {
        var cells: [(Int, Int, Float)] = (0..<10).map { ($0 + 2, 2, 0.6) }
        cells += [(50, 5, 0.9), (51, 5, 0.9), (80, 10, 1.0)]
        cells += (0..<70).map { ($0 + 5, 15, 0.55) }
        return result(cells: cells)
    }

    @Test func regionsAreRankedByLesionScore() {
        let regions = Regions.find(Self.fourRegions())
        #expect(regions.map(\.cells.count) == [70, 10, 2, 1])
        #expect(regions.map(\.id) == [1, 2, 3, 4])
        let weights: [Double] = [70 * 0.55, 10 * 0.6, 2 * 0.9, 1.0]
        let expected = weights.map { $0 * Self.cellMM2 }
        for (r, e) in zip(regions, expected) { #expect(abs(r.score / e - 1) < 1e-6, "\(r.score) vs \(e)") }
        #expect(regions[3].maxProbability == 1.0)  // the highest peak ranks last: it is one cell
        let peak: [Double] = [80 * 32 + 16, 10 * 32 + 16]
        #expect(regions[3].peak == peak)
    }

    /// Longest diameters on the cell grid and the Camelyon classes they give.
    @Test func diametersAndCamelyonClasses() {
        let regions = Regions.find(Self.fourRegions())
        let cell = 32 * 0.972 / 1000
        let sides: [(Double, Double)] = [(70, 1), (10, 1), (2, 1), (1, 1)]
        let expected: [Double] = sides.map { (a: Double, b: Double) -> Double in ((a * cell) * (a * cell) + (b * cell) * (b * cell)).squareRoot() }
        for (r, e) in zip(regions, expected) { #expect(abs(r.diameterMM - e) < 1e-9, "\(r.diameterMM) vs \(e)") }
        #expect(regions.map(\.lesionClass) == [.macro, .micro, .itc, .itc])
        #expect(LesionClass(diameterMM: 0.1999) == .itc && LesionClass(diameterMM: 0.2) == .micro)
        #expect(LesionClass(diameterMM: 2) == .micro && LesionClass(diameterMM: 2.0001) == .macro)
        // An L shape: the diameter runs corner to corner, not along a side.
        let down: [(Int, Int, Float)] = (0..<8).map { (10, 2 + $0, Float(0.9)) }
        let across: [(Int, Int, Float)] = (1..<6).map { (10 + $0, 9, Float(0.9)) }
        let l = Regions.find(Self.result(cells: down + across))
        let lDiameter: Double = (36.0 + 64.0).squareRoot() * cell
        #expect(abs(l[0].diameterMM - lDiameter) < 1e-9)
    }

    @Test func minimumCellsLeavesSpecksOut() {
        let all = Regions.find(Self.fourRegions())
        let kept = Regions.find(Self.fourRegions(), minimumCells: 2)
        #expect(kept.map(\.cells.count) == [70, 10, 2])
        #expect(kept.map(\.id) == [1, 2, 3])
        #expect(Array(all.prefix(3)).map(\.cells) == kept.map(\.cells))
        #expect(Regions.find(Self.fourRegions(), minimumCells: 71).isEmpty)
    }

    // MARK: QuPath

    static let qupathProperties: Set<String> = ["objectType", "name", "color", "classification", "isLocked", "measurements", "metadata"]

    /// The structure of a feature: keys and value types, as QuPath's reader sees them.
    static func checkQuPathFeature(_ feature: [String: Any], like reference: [String: Any], _ label: String) throws {
        #expect(Set(feature.keys) == Set(reference.keys), "\(label): top-level keys \(feature.keys.sorted())")
        let id = try #require(feature["id"] as? String)
        #expect(UUID(uuidString: id) != nil, "\(label): id \(id) is not a UUID, so QuPath would drop it")
        let geometry = try #require(feature["geometry"] as? [String: Any])
        #expect(geometry["type"] as? String == "Polygon")
        let rings = try #require(geometry["coordinates"] as? [[[Double]]])
        for ring in rings { #expect(ring.count >= 4 && ring.first == ring.last && ring.allSatisfy { $0.count == 2 }, "\(label): ring") }
        let properties = try #require(feature["properties"] as? [String: Any])
        let referenceProperties = try #require(reference["properties"] as? [String: Any])
        #expect(Set(properties.keys).isSubset(of: qupathProperties), "\(label): QuPath drops \(Set(properties.keys).subtracting(qupathProperties))")
        #expect(properties["objectType"] as? String == referenceProperties["objectType"] as? String)
        #expect(properties["name"] is String)
        if let classification = properties["classification"] {
            let c = try #require(classification as? [String: Any])
            let reference = try #require(referenceProperties["classification"] as? [String: Any])
            #expect(Set(c.keys) == Set(reference.keys))
            #expect(c["name"] is String)
            let color = try #require(c["color"] as? [Int])
            #expect(color.count == 3 && color.allSatisfy { (0...255).contains($0) })
        }
        let measurements = try #require(properties["measurements"] as? [String: Any])
        #expect(referenceProperties["measurements"] is [String: Any])
        for (name, value) in measurements {
            #expect(value is NSNumber, "\(label): measurement \(name) is not a number")
        }
        if let metadata = properties["metadata"] {
            #expect((metadata as? [String: Any])?.values.allSatisfy { $0 is String } == true, "\(label): metadata values must be strings")
        }
    }

    static func features(_ bytes: [UInt8]) throws -> [[String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(Set(object.keys) == ["type", "features"])
        #expect(object["type"] as? String == "FeatureCollection")
        return try #require(object["features"] as? [[String: Any]])
    }

    @Test func geoJSONHasQuPathsExportStructure() throws {
        let fixture = try Self.features(Array(try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("qupath/qupath-export.geojson"))))
        let annotation = try #require(fixture.first { ($0["properties"] as? [String: Any])?["objectType"] as? String == "annotation" })
        let tile = try #require(fixture.first { ($0["properties"] as? [String: Any])?["objectType"] as? String == "tile" })

        let result = Self.fourRegions()
        let regions = Regions.find(result)
        let written = try Self.features(QuPathGeoJSON.regions(regions, slideName: "slide \"one\""))
        #expect(written.count == regions.count)
        for (k, feature) in written.enumerated() {
            try Self.checkQuPathFeature(feature, like: annotation, "region \(k + 1)")
            let properties = feature["properties"] as! [String: Any]
            let m = properties["measurements"] as! [String: Double]
            #expect(m["Rank"] == Double(k + 1))
            #expect(abs(m["Lesion score mm^2"]! / regions[k].score - 1) < 1e-12 && abs(m["Longest diameter mm"]! / regions[k].diameterMM - 1) < 1e-12)
            #expect(properties["name"] as? String == "Lesion \(k + 1) (\(regions[k].lesionClass.label))")
            #expect((properties["metadata"] as? [String: String])?["lesionClass"] == regions[k].lesionClass.rawValue)
        }
        #expect(Set(written.map { $0["id"] as! String }).count == written.count)

        let tiles = try Self.features(QuPathGeoJSON.tiles(result, slideName: "slide \"one\""))
        #expect(tiles.count == result.screenedCells)
        for (k, feature) in tiles.enumerated() { try Self.checkQuPathFeature(feature, like: tile, "tile \(k)") }
        let cell = result.grid.columns * 15 + 5
        let one = try #require(tiles.first { ($0["properties"] as? [String: Any])?["name"] as? String == "Tile r15 c5" })
        let m = try #require((one["properties"] as? [String: Any])?["measurements"] as? [String: Double])
        #expect(m["Tumour probability"] == Double(result.probabilities[cell]!))
        #expect(((one["properties"] as? [String: Any])?["classification"] as? [String: Any])?["name"] as? String == "Tumor")
        let negative = try #require(tiles.first { ($0["properties"] as? [String: Any])?["name"] as? String == "Tile r0 c0" })
        #expect((negative["properties"] as? [String: Any])?["classification"] == nil)
        // Ids are stable across runs and distinct across kinds and slides.
        #expect(QuPathGeoJSON.uuid("a", "region", 1) == QuPathGeoJSON.uuid("a", "region", 1))
        #expect(Set([QuPathGeoJSON.uuid("a", "region", 1), QuPathGeoJSON.uuid("a", "tile", 1), QuPathGeoJSON.uuid("b", "region", 1)]).count == 3)
    }

    // MARK: probability.tif

    /// probability.tif read back through OpenSlide: every pixel is round(255 p) of the cell its
    /// level-0 centre lies in, per tiles.csv, at the stated downsample and resolution.
    @Test(arguments: [32, 96])
    func probabilityMapOverlaysTheSlide(stride: Int) throws {
        let url = dir.file("map-\(stride).tiff")
        let size = PixelSize(width: 2000, height: 1000)
        let writer = PyramidalTIFFWriter(sizeLevel0: size, tileSize: 256, micronsPerPixel: (0.25, 0.25))
        try TestSlides.writeSquares(to: url, writer: writer, squares: [
            (PixelPoint(x: 300, y: 200), PixelSize(width: 800, height: 500)), (PixelPoint(x: 1500, y: 100), PixelSize(width: 300, height: 800)),
        ], color: (120, 40, 120))
        let slide = try openSlide(at: url)
        var options = ScreenOptions()
        options.stride = stride
        options.minimumTissue = 0.3
        let result = try Screener(bundle: SyntheticModel.centreDarkness()).screen(slide, options: options)
        let model = ScreenSummary.Model(name: "m", path: "m", sha256: "", architecture: "x", micronsPerPixel: 0.972)
        let out = dir.file("out-\(stride)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let summary = try ScreenWriter.write(result: result, slide: slide, model: model, options: options, toolVersion: "t", to: out)
        #expect(summary.outputs.contains("probability.tif"))
        let folder = out.appendingPathComponent(summary.slide.name)
        let map = try #require(ProbabilityMap(grid: result.grid))
        let cell = Double(stride) * 0.972 / 0.25
        // The largest power of two with 4 pixels per cell, unless the map would be under 16 px.
        let halved = (size.width / (map.downsample * 2) < 16 || size.height / (map.downsample * 2) < 16)
        #expect(Double(map.downsample) <= cell / 4 && (Double(map.downsample * 2) > cell / 4 || halved))

        let tif = try openSlide(at: folder.appendingPathComponent("probability.tif"))
        let d = map.downsample
        #expect(tif.metadata.sizeLevel0 == PixelSize(width: (size.width + d - 1) / d, height: (size.height + d - 1) / d))
        #expect(abs(tif.metadata.resolution.mppX! / (0.25 * Double(d)) - 1) < 1e-6, "\(tif.metadata.resolution)")
        let pixels = try tif.readRegion(originLevel0: PixelPoint(x: 0, y: 0), level: 0, sizeAtLevel: tif.metadata.sizeLevel0)

        // Cells from tiles.csv, in level-0 pixels.
        let csv = try String(contentsOf: folder.appendingPathComponent("tiles.csv"), encoding: .utf8)
        var cells: [(x: Double, y: Double, w: Double, h: Double, value: UInt8)] = []
        for line in csv.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",")
            let g = result.grid
            let (row, column) = (Int(f[4])!, Int(f[5])!)
            let r = g.cellLevel0(column: column, row: row)
            cells.append((r.x, r.y, r.width, r.height, UInt8((Double(f[7])! * 255).rounded())))
        }
        #expect(cells.contains { $0.value > 200 } && cells.contains { $0.value < 50 })
        var mismatches = 0
        for y in 0..<pixels.height {
            for x in 0..<pixels.width {
                let cx = (Double(x) + 0.5) * Double(d), cy = (Double(y) + 0.5) * Double(d)
                let expected = cells.first { cx >= $0.x && cx < $0.x + $0.w && cy >= $0.y && cy < $0.y + $0.h }?.value ?? 0
                let got = pixels.pixels[(y * pixels.width + x) * 3]
                if got != expected || pixels.pixels[(y * pixels.width + x) * 3 + 1] != expected { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    /// Slides too small for a 16-pixel TIFF tile get no map, and the summary says so.
    @Test func tinySlidesGetNoMap() {
        let grid = TileGrid(sizeLevel0: PixelSize(width: 12, height: 12), mppX: 0.972, mppY: 0.972, targetMPP: 0.972, stride: 96)
        #expect(ProbabilityMap(grid: grid) == nil)
    }
}
