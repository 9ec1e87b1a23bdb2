import Foundation
import Imaging
import Slides

/// probability.tif: the screen's probabilities as a pyramidal tiled TIFF in the slide's
/// level-0 frame, for slide viewers (QuPath, ASAP) to lay over the slide.
///
/// Each pixel is `round(255 · p)` of the cell that contains the pixel's centre, 0 where no
/// cell was screened. The map is the slide at a power-of-two downsample `d` of level 0 (its
/// size is `ceil(width / d) × ceil(height / d)`, its resolution tags say `d ×` the slide's µm
/// per pixel), so it lines up with the slide exactly; `d` is chosen so that every cell spans
/// at least 4 map pixels, finer than one pixel per cell.
public struct ProbabilityMap: Sendable {
    public let grid: TileGrid
    public let downsample: Int
    public var size: PixelSize {
        PixelSize(width: (grid.sizeLevel0.width + downsample - 1) / downsample,
                  height: (grid.sizeLevel0.height + downsample - 1) / downsample)
    }

    /// Slides whose map would be narrower than a TIFF tile (16 px) get none.
    public init?(grid: TileGrid) {
        let cell = min(Double(grid.stride) * grid.scaleX, Double(grid.stride) * grid.scaleY)
        var d = 1
        while Double(d * 2) <= cell / 4 { d *= 2 }
        // At most 2^28 pixels, and at least 16 px on each side where the slide allows.
        while Double(grid.sizeLevel0.width) * Double(grid.sizeLevel0.height) / Double(d * d) > Double(1 << 28) { d *= 2 }
        while d > 1 && (grid.sizeLevel0.width / d < 16 || grid.sizeLevel0.height / d < 16) { d /= 2 }
        guard grid.sizeLevel0.width / d >= 16 && grid.sizeLevel0.height / d >= 16 else { return nil }
        self.grid = grid
        self.downsample = d
    }

    /// Levels down to about 256 px on the short side.
    public var levelCount: Int {
        var n = 1
        while min(size.width, size.height) >> n >= 256 { n += 1 }
        return n
    }

    /// The 8-bit value at level-0 point (x, y).
    static func value(_ probabilities: [Float?], grid: TileGrid, x: Double, y: Double) -> UInt8 {
        let column = Int(x / (Double(grid.stride) * grid.scaleX)), row = Int(y / (Double(grid.stride) * grid.scaleY))
        guard column >= 0, row >= 0, column < grid.columns, row < grid.rows, let p = probabilities[row * grid.columns + column] else { return 0 }
        return UInt8(max(0, min(255, (Double(p) * 255).rounded())))
    }

    public func write(_ result: ScreenResult, slideName: String, to url: URL) throws {
        let d = Double(downsample)
        let description = "HistoScreen probability map of \(slideName): value = round(255 × P(tumour)) of the cell under each pixel, "
            + "0 where no cell was screened; level-0 downsample \(downsample) (\(String(format: "%.4f", grid.mppX * d)) µm/px); "
            + "cells \(grid.stride) model px (\(String(format: "%.1f", Double(grid.stride) * grid.scaleX)) level-0 px); threshold \(result.threshold)"
        let writer = PyramidalTIFFWriter(sizeLevel0: size, levelCount: levelCount, tileSize: 256, compression: .deflate,
                                         micronsPerPixel: (grid.mppX * d, grid.mppY * d), imageDescription: description, channels: 1)
        let probabilities = result.probabilities, grid = self.grid
        try writer.write(to: url) { level, origin, tileSize in
            var tile = Raster(width: tileSize.width, height: tileSize.height, channels: 1)
            let f = d * Double(1 << level)
            for y in 0..<tileSize.height {
                let ly = (Double(origin.y + y) + 0.5) * f
                for x in 0..<tileSize.width {
                    tile.pixels[y * tileSize.width + x] = Self.value(probabilities, grid: grid, x: (Double(origin.x + x) + 0.5) * f, y: ly)
                }
            }
            return tile
        }
    }
}
