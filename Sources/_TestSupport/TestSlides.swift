import Foundation
import Imaging
import Slides

/// Slides with known pixels at known coordinates, written with `PyramidalTIFFWriter`.
public enum TestSlides {
    /// The colour of pixel (x, y), in that level's own frame, of the patterned test slide.
    /// Every channel changes with position and level, so a read shifted by one pixel or
    /// taken from the wrong level does not match.
    @inlinable
    public static func patternPixel(level: Int, x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: x &* 7 &+ level &* 50),
         UInt8(truncatingIfNeeded: y &* 3 &+ (x >> 5)),
         UInt8(truncatingIfNeeded: (x >> 8) &* 31 &+ (y >> 8) &* 17 &+ level &* 85))
    }

    /// The pattern over a rectangle of one level; pixels outside `sizeAtLevel` of the
    /// level are white, as the readers return them.
    public static func expectedPattern(level: Int, originAtLevel: PixelPoint, size: PixelSize,
                                       levelSize: PixelSize) -> Raster {
        var out = Raster(width: size.width, height: size.height, channels: 3, fill: [255, 255, 255])
        for y in 0..<size.height {
            for x in 0..<size.width {
                let lx = originAtLevel.x + x, ly = originAtLevel.y + y
                guard lx >= 0, ly >= 0, lx < levelSize.width, ly < levelSize.height else { continue }
                let p = patternPixel(level: level, x: lx, y: ly)
                let i = (y * size.width + x) * 3
                out.pixels[i] = p.0; out.pixels[i + 1] = p.1; out.pixels[i + 2] = p.2
            }
        }
        return out
    }

    /// Writes a slide whose every level holds `patternPixel` in its own frame.
    public static func writePatterned(to url: URL, writer: PyramidalTIFFWriter) throws {
        try writer.write(to: url) { level, origin, size in
            expectedPattern(level: level, originAtLevel: origin, size: size, levelSize: writer.sizeAtLevel(level))
        }
    }

    /// Writes a slide that is white except for solid squares of `color`, given as
    /// level-0 rectangles; lower levels are the same picture scaled down (a pixel is
    /// coloured when its level-0 centre falls in a square).
    public static func writeSquares(to url: URL, writer: PyramidalTIFFWriter,
                                    squares: [(origin: PixelPoint, size: PixelSize)],
                                    color: (UInt8, UInt8, UInt8), background: (UInt8, UInt8, UInt8) = (255, 255, 255)) throws {
        try writer.write(to: url) { level, origin, size in
            let f = 1 << level
            var out = Raster(width: size.width, height: size.height, channels: 3,
                             fill: [background.0, background.1, background.2])
            for y in 0..<size.height {
                for x in 0..<size.width {
                    let cx = (origin.x + x) * f + f / 2, cy = (origin.y + y) * f + f / 2
                    let inside = squares.contains {
                        cx >= $0.origin.x && cx < $0.origin.x + $0.size.width
                            && cy >= $0.origin.y && cy < $0.origin.y + $0.size.height
                    }
                    if inside {
                        let i = (y * size.width + x) * 3
                        out.pixels[i] = color.0; out.pixels[i + 1] = color.1; out.pixels[i + 2] = color.2
                    }
                }
            }
            return out
        }
    }
}

/// The largest absolute difference between two rasters' samples (they must match in shape).
public func maxAbsDifference(_ a: Raster, _ b: Raster) -> Int {
    precondition(a.width == b.width && a.height == b.height && a.channels == b.channels,
                 "maxAbsDifference: \(a.width)×\(a.height)×\(a.channels) vs \(b.width)×\(b.height)×\(b.channels)")
    var worst = 0
    for i in 0..<a.pixels.count { worst = max(worst, abs(Int(a.pixels[i]) - Int(b.pixels[i]))) }
    return worst
}

/// The mean absolute difference between two rasters' samples.
public func meanAbsDifference(_ a: Raster, _ b: Raster) -> Double {
    precondition(a.pixels.count == b.pixels.count, "meanAbsDifference: sizes differ")
    var total = 0
    for i in 0..<a.pixels.count { total += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
    return Double(total) / Double(max(1, a.pixels.count))
}
