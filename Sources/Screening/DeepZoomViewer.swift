import Foundation
import Imaging
import Slides

/// The zoomable view: a DeepZoom pyramid of the slide with the heatmap blended over it
/// (`viewer.dzi`, `viewer_files/<level>/<column>_<row>.jpg`) and `viewer.html`, one
/// self-contained page that pans and zooms it offline, with the regions outlined, numbered by
/// rank, and their measurements on hover. The page's code is the project's own (no library).
///
/// The most detailed level is a slide level at or finer than `OutputOptions.viewerMPP`,
/// halved by whole powers of two until it is no finer than half that, so a 0.25 µm/px scan
/// viewed at 2 µm/px reads its 4× level and halves it once. DeepZoom level `n` is that image
/// and level `l` is it halved `n − l` times (rounding up), down to 1 × 1 pixel.
public enum DeepZoomViewer {
    public static let tileSize = 256
    static let quality = 85
    static let heatmapAlpha = 0.45
    /// The most detailed level's size is capped (2^27 pixels, 384 MiB of RGB at most for its
    /// half-size copy and below); a larger one is halved again.
    static let maximumPixels = 1 << 27

    /// The slide level read and the extra power-of-two reduction for `mpp`.
    static func plan(_ slide: any Slide, mppX: Double, viewerMPP: Double) -> (level: Int, reduction: Int, size: PixelSize) {
        let level = slide.bestLevel(forDownsample: viewerMPP / mppX)
        let info = slide.metadata.levels[level]
        var k = 1
        while mppX * info.downsample * Double(k * 2) <= viewerMPP * (1 + 1e-6) { k *= 2 }
        func size(_ k: Int) -> PixelSize {
            PixelSize(width: (info.sizeAtLevel.width + k - 1) / k, height: (info.sizeAtLevel.height + k - 1) / k)
        }
        while size(k).width * size(k).height > maximumPixels { k *= 2 }
        return (level, k, size(k))
    }

    public static func write(result: ScreenResult, slide: any Slide, regions: [Region], output: OutputOptions, title: String,
                             into folder: URL) throws {
        let grid = result.grid
        let (level, k, top) = plan(slide, mppX: grid.mppX, viewerMPP: output.viewerMPP)
        let levelInfo = slide.metadata.levels[level]
        let downsample = levelInfo.downsample * Double(k)  // level-0 pixels per top-level pixel
        let maxLevel = Int((log2(Double(max(top.width, top.height)))).rounded(.up))
        let files = folder.appendingPathComponent("viewer_files")
        func levelFolder(_ l: Int) throws -> URL {
            let url = files.appendingPathComponent("\(l)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            return url
        }
        func writeTiles(_ image: Raster, level l: Int) throws {
            let dir = try levelFolder(l)
            for ty in stride(from: 0, to: image.height, by: tileSize) {
                for tx in stride(from: 0, to: image.width, by: tileSize) {
                    let tile = image.cropped(x: tx, y: ty, width: min(tileSize, image.width - tx), height: min(tileSize, image.height - ty))
                    try Data(try JPEG.encode(tile, quality: quality))
                        .write(to: dir.appendingPathComponent("\(tx / tileSize)_\(ty / tileSize).jpg"))
                }
            }
        }

        // The top level, tile by tile: read, reduce, blend the heatmap, encode; each tile's
        // half-size copy goes into the next level, which is kept whole (a quarter of the top).
        let topDir = try levelFolder(maxLevel)
        let half = SharedRaster(width: (top.width + 1) / 2, height: (top.height + 1) / 2)
        let columns = (top.width + tileSize - 1) / tileSize, rows = (top.height + tileSize - 1) / tileSize
        let failure = FirstError()
        let cellW = Double(grid.stride) * grid.scaleX, cellH = Double(grid.stride) * grid.scaleY
        DispatchQueue.concurrentPerform(iterations: rows) { row in
            failure.run {
                for column in 0..<columns {
                    let x = column * tileSize, y = row * tileSize
                    let w = min(tileSize, top.width - x), h = min(tileSize, top.height - y)
                    let readW = min(w * k, levelInfo.sizeAtLevel.width - x * k), readH = min(h * k, levelInfo.sizeAtLevel.height - y * k)
                    let origin = PixelPoint(x: Int((Double(x * k) * levelInfo.downsample).rounded()),
                                            y: Int((Double(y * k) * levelInfo.downsample).rounded()))
                    var tile = try slide.readRegion(originLevel0: origin, level: level, sizeAtLevel: PixelSize(width: readW, height: readH))
                    if k > 1 || readW != w || readH != h { tile = tile.resampledArea(width: w, height: h) }
                    blendHeatmap(&tile, x: x, y: y, downsample: downsample, cellW: cellW, cellH: cellH, result: result,
                                 floor: output.heatmapFloor)
                    try Data(try JPEG.encode(tile, quality: quality)).write(to: topDir.appendingPathComponent("\(column)_\(row).jpg"))
                    half.place(tile.resampledArea(width: (w + 1) / 2, height: (h + 1) / 2), x: x / 2, y: y / 2)
                }
            }
        }
        try failure.check()
        var image = half.snapshot()
        for l in stride(from: maxLevel - 1, through: 0, by: -1) {
            try writeTiles(image, level: l)
            if l > 0 { image = image.resampledArea(width: (image.width + 1) / 2, height: (image.height + 1) / 2) }
        }

        let dzi = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="jpg" Overlap="0" TileSize="\(tileSize)">
              <Size Width="\(top.width)" Height="\(top.height)"/>
            </Image>

            """
        try AtomicFile.write(text: dzi, to: folder.appendingPathComponent("viewer.dzi"))
        let config = ViewerConfig(
            title: title, width: top.width, height: top.height, tileSize: tileSize, maxLevel: maxLevel,
            micronsPerPixel: grid.mppX * downsample, level0PerPixel: downsample, floor: output.heatmapFloor, threshold: result.threshold,
            regions: regions.map { r in
                ViewerConfig.Region(
                    rank: r.id, lesionClass: r.lesionClass.label, score: r.score, areaMM2: r.areaMM2, diameterMM: r.diameterMM,
                    maxProbability: r.maxProbability, meanProbability: r.meanProbability, cells: r.cells.count,
                    rings: r.rings.map { $0.map { [($0[0] / downsample * 100).rounded() / 100, ($0[1] / downsample * 100).rounded() / 100] } },
                    peak: [r.peak[0] / downsample, r.peak[1] / downsample])
            })
        try AtomicFile.write(text: try html(config), to: folder.appendingPathComponent("viewer.html"))
    }

    /// Blends viridis over the pixels of a top-level tile at (x, y) whose cell reached `floor`.
    static func blendHeatmap(_ tile: inout Raster, x: Int, y: Int, downsample: Double, cellW: Double, cellH: Double,
                             result: ScreenResult, floor: Double) {
        let g = result.grid
        let columns = (0..<tile.width).map { Int((Double(x + $0) + 0.5) * downsample / cellW) }
        let a = heatmapAlpha
        for yy in 0..<tile.height {
            let row = Int((Double(y + yy) + 0.5) * downsample / cellH)
            guard row < g.rows else { continue }
            for xx in 0..<tile.width {
                let column = columns[xx]
                guard column < g.columns, let p = result.probabilities[row * g.columns + column], Double(p) >= floor else { continue }
                let c = Viridis.color(Double(p))
                let i = (yy * tile.width + xx) * 3
                tile.pixels[i] = UInt8((Double(tile.pixels[i]) * (1 - a) + Double(c.r) * a).rounded())
                tile.pixels[i + 1] = UInt8((Double(tile.pixels[i + 1]) * (1 - a) + Double(c.g) * a).rounded())
                tile.pixels[i + 2] = UInt8((Double(tile.pixels[i + 2]) * (1 - a) + Double(c.b) * a).rounded())
            }
        }
    }

    struct ViewerConfig: Encodable {
        struct Region: Encodable {
            var rank: Int
            var lesionClass: String
            var score, areaMM2, diameterMM, maxProbability, meanProbability: Double
            var cells: Int
            var rings: [[[Double]]]
            var peak: [Double]
        }
        var title: String
        var width, height, tileSize, maxLevel: Int
        var micronsPerPixel, level0PerPixel, floor, threshold: Double
        var regions: [Region]
        var colormap: [String] = (0...10).map { i in
            let c = Viridis.color(Double(i) / 10)
            return String(format: "#%02x%02x%02x", c.r, c.g, c.b)
        }
    }

    /// An RGB raster that several threads fill in disjoint rectangles.
    final class SharedRaster: @unchecked Sendable {  // writes never overlap; read after the writers finish
        let width: Int, height: Int
        private let pointer: UnsafeMutablePointer<UInt8>
        init(width: Int, height: Int) {
            self.width = max(1, width)
            self.height = max(1, height)
            pointer = .allocate(capacity: self.width * self.height * 3)
            pointer.initialize(repeating: 255, count: self.width * self.height * 3)
        }
        deinit { pointer.deallocate() }
        func place(_ part: Raster, x: Int, y: Int) {
            for row in 0..<part.height where y + row < height {
                let n = min(part.width, width - x) * 3
                guard n > 0 else { continue }
                part.pixels.withUnsafeBufferPointer { src in
                    (pointer + ((y + row) * width + x) * 3).update(from: src.baseAddress! + row * part.width * 3, count: n)
                }
            }
        }
        /// The pixels, once every writer has finished.
        func snapshot() -> Raster {
            Raster(width: width, height: height, channels: 3, pixels: Array(UnsafeBufferPointer(start: pointer, count: width * height * 3)))
        }
    }
}
