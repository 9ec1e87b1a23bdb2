import Foundation
import Imaging
import Neural
import Screening
import Slides
import Testing
import _TestSupport

/// report.html rendered by headless Chromium (Debian's `chromium`): the page is not blank and
/// the overlay, with its viridis colour bar, is visible. CI installs Chromium; elsewhere the
/// test is skipped when it is missing.
@Suite struct ReportRenderingTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var required: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

    @Test(.enabled(if: chromium != nil || required, "chromium is not installed"))
    func reportRendersWithTheOverlay() throws {
        let chromium = try #require(Self.chromium, "CI must install chromium")
        let dir = TemporaryDirectory()
        let model = dir.file("centre.hsmodel")
        try SyntheticModel.centreDarkness().save(to: model)
        let slide = dir.file("squares.tiff")
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 800, height: 600), tileSize: 128, micronsPerPixel: (0.972, 0.972))
        try TestSlides.writeSquares(to: slide, writer: writer, squares: [
            (PixelPoint(x: 100, y: 100), PixelSize(width: 300, height: 200)), (PixelPoint(x: 500, y: 300), PixelSize(width: 200, height: 200)),
        ], color: (120, 40, 120))
        let screen = try CLI.run(["screen", slide.path, "--model", model.path, "--out", dir.file("out").path, "--quiet", "--stride", "32"])
        #expect(screen.status == 0, "\(screen.stderr)")
        let report = dir.file("out/squares/report.html")
        let shot = dir.file("shot.png")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1600",
                             "--screenshot=\(shot.path)", report.absoluteURL.absoluteString]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let image = try PNG.read(shot).toRGB()
        #expect(image.width == 1280)
        var nonWhite = 0, viridis = 0
        let palette = (0...20).map { Viridis.sample(Double($0) / 20) }
        for i in 0..<(image.width * image.height) {
            let r = Int(image.pixels[3 * i]), g = Int(image.pixels[3 * i + 1]), b = Int(image.pixels[3 * i + 2])
            if r < 235 || g < 235 || b < 235 { nonWhite += 1 }
            if palette.contains(where: { abs($0.0 - r) + abs($0.1 - g) + abs($0.2 - b) < 12 }) { viridis += 1 }
        }
        let total = image.width * image.height
        #expect(Double(nonWhite) / Double(total) > 0.05, "the page looks blank: \(nonWhite) of \(total) pixels are not white")
        #expect(viridis > 2000, "the overlay's colours are not visible: \(viridis) viridis-coloured pixels")
    }
}

extension ReportRenderingTests {
    /// worklist.html links each slide's thumbnail and overlay by relative path: they must load.
    @Test(.enabled(if: chromium != nil || required, "chromium is not installed"))
    func worklistRendersWithItsImages() throws {
        let chromium = try #require(Self.chromium, "CI must install chromium")
        let dir = TemporaryDirectory()
        let model = dir.file("centre.hsmodel")
        try SyntheticModel.centreDarkness().save(to: model)
        let slides = dir.file("slides")
        try FileManager.default.createDirectory(at: slides, withIntermediateDirectories: true)
        for k in 0..<2 {
            let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 600, height: 400), tileSize: 128, micronsPerPixel: (0.972, 0.972))
            try TestSlides.writeSquares(to: slides.appendingPathComponent("s\(k).tiff"), writer: writer,
                                        squares: [(PixelPoint(x: 50, y: 50), PixelSize(width: 200 + 100 * k, height: 300))], color: (120, 40, 120))
        }
        let out = dir.file("out")
        let triage = try CLI.run(["triage", slides.path, "--out", out.path, "--model", model.path, "--quiet"])
        #expect(triage.status == 0, "\(triage.stderr)")
        let shot = dir.file("worklist.png")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files",
                             "--window-size=1280,900", "--screenshot=\(shot.path)", out.appendingPathComponent("worklist.html").absoluteString]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let image = try PNG.read(shot).toRGB()
        var purple = 0, nonWhite = 0
        for i in 0..<(image.width * image.height) {
            let r = Int(image.pixels[3 * i]), g = Int(image.pixels[3 * i + 1]), b = Int(image.pixels[3 * i + 2])
            if r < 235 || g < 235 || b < 235 { nonWhite += 1 }
            if abs(r - 120) + abs(g - 40) + abs(b - 120) < 40 { purple += 1 }
        }
        #expect(nonWhite > image.width * image.height / 50, "the worklist looks blank")
        #expect(purple > 500, "the slide thumbnails did not load: \(purple) purple pixels")
    }
}

extension Viridis {
    /// RGB of the colour map as integers, for comparisons.
    static func sample(_ v: Double) -> (Int, Int, Int) {
        let c = color(v)
        return (Int(c.r), Int(c.g), Int(c.b))
    }
}
