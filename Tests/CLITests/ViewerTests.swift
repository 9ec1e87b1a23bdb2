import Foundation
import Imaging
import Neural
import Screening
import Slides
import Testing
import _TestSupport

/// viewer.html driven in headless Chromium: it opens from the file system, loads its tiles,
/// zooms about the cursor, pans by exactly the drag, shows a region's measurements on hover,
/// and its screenshots show the heatmap over the slide where the region is.
@Suite struct ViewerTests {
    static let chromium = ReportRenderingTests.chromium
    let dir = TemporaryDirectory()

    struct State: Decodable {
        var scale, x, y, minScale: Double
        var level, background, tiles, tilesAtLevel, loaded, failed: Int
        var tip: String?
        var outlines: Bool
        var viewLeft, viewTop: Double
        var viewWidth, viewHeight: Int
    }

    /// Opens the page with `actions` replayed; returns its state and, if asked, a screenshot.
    func open(_ page: URL, actions: String, screenshot: Bool = false) throws -> (State, Raster?) {
        var components = URLComponents(url: page, resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "actions", value: actions)]
        let url = components.url!.absoluteString
        func chromium(_ mode: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try #require(Self.chromium, "CI must install chromium"))
            process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,760",
                                 "--virtual-time-budget=10000"] + mode + [url]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            return String(decoding: data, as: UTF8.self)
        }
        let dom = try chromium(["--dump-dom"])
        let start = try #require(dom.range(of: "<pre id=\"state\" hidden=\"\">") ?? dom.range(of: "<pre id=\"state\">"), "no state in the page: \(dom.suffix(400))")
        let end = try #require(dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex))
        let json = String(dom[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&amp;", with: "&")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
        let state = try JSONDecoder().decode(State.self, from: Data(json.utf8))
        guard screenshot else { return (state, nil) }
        let shot = dir.file("shot-\(UUID().uuidString).png")
        _ = try chromium(["--screenshot=\(shot.path)"])
        return (state, try PNG.read(shot).toRGB())
    }

    @Test(.enabled(if: chromium != nil || ReportRenderingTests.required, "chromium is not installed"))
    func viewerZoomsPansAndShowsMeasurements() throws {
        let model = dir.file("centre.hsmodel")
        try SyntheticModel.centreDarkness().save(to: model)
        let slide = dir.file("lesions.tiff")
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 4000, height: 3000), levelCount: 3, tileSize: 256, micronsPerPixel: (0.25, 0.25))
        try TestSlides.writeSquares(to: slide, writer: writer, squares: [
            (PixelPoint(x: 800, y: 600), PixelSize(width: 1600, height: 1200)), (PixelPoint(x: 3000, y: 400), PixelSize(width: 500, height: 500)),
        ], color: (120, 40, 120))
        let out = dir.file("out")
        let screen = try CLI.run(["screen", slide.path, "--model", model.path, "--out", out.path, "--quiet", "--viewer", "--viewer-mpp", "0.5"])
        #expect(screen.status == 0, "\(screen.stderr)")
        let folder = out.appendingPathComponent("lesions")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("summary.json"))) as? [String: Any])
        let regions = try #require(summary["regions"] as? [[String: Any]])
        #expect(regions.count == 2)
        let first = regions[0]
        #expect(first["rank"] as? Int == 1)
        let peak = try #require(first["peak"] as? [Double])
        // The top level is level 0 halved (0.5 µm/px): 2000 × 1500, so 11 DeepZoom levels.
        let dzi = try String(contentsOf: folder.appendingPathComponent("viewer.dzi"), encoding: .utf8)
        #expect(dzi.contains("Width=\"2000\" Height=\"1500\""))
        for level in 0...11 {
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("viewer_files/\(level)/0_0.jpg").path), "level \(level)")
        }
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("viewer_files/11/7_5.jpg").path))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("viewer_files/12").path))
        let page = folder.appendingPathComponent("viewer.html")

        // Fitted: the whole slide in view, every tile loaded.
        let (fit, fitShot) = try open(page, actions: "", screenshot: true)
        #expect(fit.failed == 0 && fit.loaded == fit.tiles && fit.tiles > 0)
        #expect(abs(fit.scale - fit.minScale) < 1e-9)
        #expect(2000 * fit.scale <= Double(fit.viewWidth) && 1500 * fit.scale <= Double(fit.viewHeight))
        // On screen, region 1's peak shows the heatmap (viridis blended over purple); a tissue-free
        // corner of the slide stays white.
        let image = try #require(fitShot)
        func pixel(_ x: Double, _ y: Double) -> (Int, Int, Int) {
            let i = (Int(y) * image.width + Int(x)) * 3
            return (Int(image.pixels[i]), Int(image.pixels[i + 1]), Int(image.pixels[i + 2]))
        }
        func onScreen(_ state: State, level0 p: [Double]) -> (Double, Double) {
            (state.viewLeft + state.x + p[0] / 2 * state.scale, state.viewTop + state.y + p[1] / 2 * state.scale)
        }
        let (px, py) = onScreen(fit, level0: peak)
        let probability = try #require(first["maxProbability"] as? Double)
        let c = Viridis.color(probability)
        let stain: [Double] = [120, 40, 120], heat: [Double] = [Double(c.r), Double(c.g), Double(c.b)]
        let expected: [Int] = zip(stain, heat).map { Int(($0 * 0.55 + $1 * 0.45).rounded()) }
        let got = pixel(px, py)
        #expect(abs(got.0 - expected[0]) + abs(got.1 - expected[1]) + abs(got.2 - expected[2]) < 45, "\(got) vs \(expected)")
        let (wx, wy) = onScreen(fit, level0: [200, 2800])
        #expect(pixel(wx, wy).0 > 240 && pixel(wx, wy).1 > 240 && pixel(wx, wy).2 > 240, "\(pixel(wx, wy))")

        // The wheel zooms 4× about the cursor: the point under it stays put, and the most
        // detailed level loads.
        // Whole pixels: mouse events carry integer client coordinates.
        let cx = (px - fit.viewLeft).rounded(), cy = (py - fit.viewTop).rounded()
        let (zoomed, zoomShot) = try open(page, actions: "wheel:\(Int(cx)),\(Int(cy)),-600", screenshot: true)
        #expect(abs(zoomed.scale / fit.scale - 4) < 1e-9)
        #expect(abs((cx - zoomed.x) / zoomed.scale - (cx - fit.x) / fit.scale) < 1e-6)
        #expect(zoomed.level == 11 && zoomed.tilesAtLevel > 0 && zoomed.failed == 0 && zoomed.loaded == zoomed.tiles)
        let after = try #require(zoomShot)
        let i = (Int(py) * after.width + Int(px)) * 3
        let zoomedPixel = [Int(after.pixels[i]), Int(after.pixels[i + 1]), Int(after.pixels[i + 2])]
        let distance = zip(zoomedPixel, expected).map { abs($0 - $1) }.reduce(0, +)
        #expect(distance < 45, "\(zoomedPixel) vs \(expected)")

        // A drag pans by exactly its length.
        let (panned, _) = try open(page, actions: "wheel:\(Int(cx)),\(Int(cy)),-600;drag:500,300,380,210")
        #expect(abs(panned.x - (zoomed.x - 120)) < 1e-6 && abs(panned.y - (zoomed.y - 90)) < 1e-6)
        #expect(panned.failed == 0 && panned.loaded == panned.tiles)

        // Hovering region 1 shows its measurements, as summary.json gives them.
        let (hovered, _) = try open(page, actions: "hover:1")
        let tip = try #require(hovered.tip, "no tooltip")
        #expect(tip.hasPrefix("Lesion 1 ("))
        #expect(tip.contains(String(format: "%.4f mm²", try #require(first["areaMM2"] as? Double))))
        #expect(tip.contains("cells        \(try #require(first["cells"] as? Int))"))
        // The R key hides the outlines.
        let (hidden, _) = try open(page, actions: "key:r")
        #expect(!hidden.outlines)
    }
}
