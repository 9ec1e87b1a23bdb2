import Foundation
import Imaging
import Slides

/// The grid of cells that screening assigns probabilities to.
///
/// The model sees 96×96-pixel windows at its own µm per pixel (the *target* resolution). With
/// stride s, the slide is cut into s×s-target-pixel cells, and each cell gets the probability
/// of the window centred on it: at s = 96 windows and cells coincide; at s = 32 each cell is
/// exactly the centre 32×32 region that defines a PCam label. Cells are numbered from the
/// slide's top-left; the last row and column may extend past the slide's edge, and windows
/// reaching beyond it see white.
public struct TileGrid: Sendable, Equatable {
    public let sizeLevel0: PixelSize
    /// µm per level-0 pixel of the slide.
    public let mppX: Double
    public let mppY: Double
    /// µm per pixel the model expects.
    public let targetMPP: Double
    /// Window edge in target pixels (96 for PCam models).
    public let window: Int
    /// Cell edge in target pixels: 96, 48 or 32.
    public let stride: Int

    public init(sizeLevel0: PixelSize, mppX: Double, mppY: Double, targetMPP: Double, window: Int = 96, stride: Int) {
        precondition(stride > 0 && stride <= window && (window - stride) % 2 == 0,
                     "TileGrid: stride \(stride) must divide evenly into a centred window of \(window)")
        self.sizeLevel0 = sizeLevel0
        self.mppX = mppX
        self.mppY = mppY
        self.targetMPP = targetMPP
        self.window = window
        self.stride = stride
    }

    /// Level-0 pixels per target pixel.
    public var scaleX: Double { targetMPP / mppX }
    public var scaleY: Double { targetMPP / mppY }
    /// Target pixels between a window's edge and its cell's edge.
    public var margin: Int { (window - stride) / 2 }
    public var columns: Int { max(1, Int((Double(sizeLevel0.width) / scaleX / Double(stride)).rounded(.up))) }
    public var rows: Int { max(1, Int((Double(sizeLevel0.height) / scaleY / Double(stride)).rounded(.up))) }
    public var cellCount: Int { columns * rows }

    /// A cell's rectangle in level-0 pixels (not clipped to the slide).
    public func cellLevel0(column: Int, row: Int) -> (x: Double, y: Double, width: Double, height: Double) {
        (Double(column * stride) * scaleX, Double(row * stride) * scaleY, Double(stride) * scaleX, Double(stride) * scaleY)
    }

    /// The top-left of the window centred on a cell, in target pixels (may be negative).
    public func windowOrigin(column: Int, row: Int) -> (x: Int, y: Int) {
        (column * stride - margin, row * stride - margin)
    }

    /// Area of a level-0 pixel in mm².
    public var level0PixelAreaMM2: Double { mppX * mppY / 1e6 }
}

/// How windows are read: from which level, at how many level pixels per target pixel.
public struct ReadPlan: Sendable, Equatable {
    public let level: Int
    public let downsample: Double
    /// Level pixels per target pixel (≥ 1: the level is never coarser than the target).
    public let levelPixelsPerTargetX: Double
    public let levelPixelsPerTargetY: Double

    init(level: Int, downsample: Double, levelPixelsPerTargetX: Double, levelPixelsPerTargetY: Double) {
        self.level = level
        self.downsample = downsample
        self.levelPixelsPerTargetX = levelPixelsPerTargetX
        self.levelPixelsPerTargetY = levelPixelsPerTargetY
    }

    /// Picks the level closest to the target resolution and no coarser.
    public init(slide: any Slide, grid: TileGrid) {
        var best = 0
        for level in slide.metadata.levels {
            let mpp = grid.mppX * level.downsample
            if mpp <= grid.targetMPP * (1 + 1e-3) && level.downsample > slide.metadata.levels[best].downsample { best = level.index }
        }
        level = best
        downsample = slide.metadata.levels[best].downsample
        levelPixelsPerTargetX = grid.scaleX / downsample
        levelPixelsPerTargetY = grid.scaleY / downsample
    }
}

/// Reads target-resolution bands of windows: one row of cells, columns `first...last`.
public struct WindowReader: Sendable {
    public let slide: any Slide
    public let grid: TileGrid
    public let plan: ReadPlan

    public init(slide: any Slide, grid: TileGrid) {
        self.slide = slide
        self.grid = grid
        self.plan = ReadPlan(slide: slide, grid: grid)
    }

    /// The band under the windows of cells `first...last` of `row`, at the target resolution:
    /// `window` pixels high and `(last − first)·stride + window` wide. It reads the plan's level
    /// and area-resamples to the exact target pixel size.
    public func band(row: Int, first: Int, last: Int) throws(SlideError) -> Raster {
        let origin = grid.windowOrigin(column: first, row: row)
        let widthT = (last - first) * grid.stride + grid.window, heightT = grid.window
        let sx = plan.levelPixelsPerTargetX, sy = plan.levelPixelsPerTargetY
        let lx0 = Double(origin.x) * sx, ly0 = Double(origin.y) * sy
        let ix0 = Int(lx0.rounded(.down)), iy0 = Int(ly0.rounded(.down))
        let ix1 = Int((Double(origin.x + widthT) * sx - 1e-9).rounded(.up))
        let iy1 = Int((Double(origin.y + heightT) * sy - 1e-9).rounded(.up))
        let region = try slide.readRegion(
            originLevel0: PixelPoint(x: Int((Double(ix0) * plan.downsample).rounded()), y: Int((Double(iy0) * plan.downsample).rounded())),
            level: plan.level, sizeAtLevel: PixelSize(width: ix1 - ix0, height: iy1 - iy0))
        // Already at the target resolution and pixel-aligned (to within 1/100 px over the band,
        // which absorbs the float rounding of TIFF resolution tags): crop instead of resampling.
        if abs(sx - 1) * Double(widthT) < 0.01 && abs(sy - 1) * Double(heightT) < 0.01
            && lx0 - Double(ix0) < 0.01 && ly0 - Double(iy0) < 0.01 && region.width >= widthT && region.height >= heightT {
            return region.width == widthT && region.height == heightT ? region : region.cropped(x: 0, y: 0, width: widthT, height: heightT)
        }
        return region.resampledArea(width: widthT, height: heightT, scaleX: sx, scaleY: sy,
                                    offsetX: lx0 - Double(ix0), offsetY: ly0 - Double(iy0))
    }
}
