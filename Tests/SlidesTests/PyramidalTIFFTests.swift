import Foundation
import Imaging
import Slides
import Testing
import _TestSupport

/// A generated 3-level slide whose size is not a multiple of the tile size, so every
/// level has partial edge tiles, read back through OpenSlide and compared pixel by pixel.
@Suite struct PyramidalTIFFTests {
    let dir = TemporaryDirectory()
    let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 1000, height: 700), levelCount: 3, tileSize: 256,
                                     compression: .deflate, micronsPerPixel: (0.25, 0.5))

    func patterned() throws -> any Slide {
        let url = dir.file("pattern.tiff")
        try TestSlides.writePatterned(to: url, writer: writer)
        return try openSlide(at: url)
    }

    @Test func metadataDescribesEveryLevel() throws {
        let slide = try patterned()
        let m = slide.metadata
        #expect(m.format == "generic-tiff")
        #expect(m.reader.hasPrefix("OpenSlide "))
        #expect(m.levels.map(\.sizeAtLevel) == [PixelSize(width: 1000, height: 700), PixelSize(width: 500, height: 350),
                                                PixelSize(width: 250, height: 175)])
        #expect(m.levels.map(\.downsample) == [1, 2, 4])
        #expect(m.resolution.source == .tiffResolution)
        #expect(abs(m.resolution.mppX! - 0.25) < 1e-6)
        #expect(abs(m.resolution.mppY! - 0.5) < 1e-6)
        #expect(m.objectivePower == nil)
    }

    /// Regions chosen to hit the origin, tile seams, the last partial tile, and the edge.
    @Test(arguments: [
        (0, 0, 0, 17, 9),          // the origin
        (0, 250, 250, 20, 20),     // straddles the seam between four tiles
        (0, 768, 512, 232, 188),   // exactly the last partial tile of level 0
        (0, 999, 699, 1, 1),       // the last pixel
        (1, 500, 300, 300, 60),    // level 1, across a seam and through the right edge tile
        (1, 0, 0, 500, 350),       // all of level 1
        (2, 4, 8, 249, 167),       // level 2, to its last pixel
        (2, 0, 0, 250, 175),       // all of level 2
    ])
    func readsExactPixels(level: Int, x0: Int, y0: Int, width: Int, height: Int) throws {
        let slide = try patterned()
        let ds = 1 << level
        let region = try slide.readRegion(originLevel0: PixelPoint(x: x0, y: y0), level: level,
                                          sizeAtLevel: PixelSize(width: width, height: height))
        let expected = TestSlides.expectedPattern(level: level, originAtLevel: PixelPoint(x: x0 / ds, y: y0 / ds),
                                                  size: PixelSize(width: width, height: height),
                                                  levelSize: writer.sizeAtLevel(level))
        #expect(maxAbsDifference(region, expected) == 0)
    }

    @Test func regionPastTheEdgeIsWhite() throws {
        let slide = try patterned()
        // 40×30 at level 0 starting 10 px before the right edge and 5 px above the bottom.
        let region = try slide.readRegion(originLevel0: PixelPoint(x: 990, y: 695), level: 0,
                                          sizeAtLevel: PixelSize(width: 40, height: 30))
        let expected = TestSlides.expectedPattern(level: 0, originAtLevel: PixelPoint(x: 990, y: 695),
                                                  size: PixelSize(width: 40, height: 30), levelSize: writer.sizeAtLevel(0))
        #expect(maxAbsDifference(region, expected) == 0)
        #expect(Array(region.pixel(x: 39, y: 29)) == [255, 255, 255])
        // Negative origin: the part left of and above the slide is white too.
        let before = try slide.readRegion(originLevel0: PixelPoint(x: -4, y: -2), level: 0,
                                          sizeAtLevel: PixelSize(width: 8, height: 4))
        #expect(Array(before.pixel(x: 0, y: 0)) == [255, 255, 255])
        let p = TestSlides.patternPixel(level: 0, x: 0, y: 0)
        #expect(Array(before.pixel(x: 4, y: 2)) == [p.0, p.1, p.2])
    }

    @Test func jpegSlideReadsBackClose() throws {
        // A smooth gradient, so JPEG's error is small and a misplaced tile would show.
        let jpeg = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 600, height: 400), levelCount: 2, tileSize: 128,
                                       compression: .jpeg(quality: 95), micronsPerPixel: (0.5, 0.5))
        func gradient(_ level: Int, _ x: Int, _ y: Int) -> [UInt8] {
            let f = 1 << level
            return [UInt8((x * f) * 255 / 600), UInt8((y * f) * 255 / 400), 128]
        }
        let url = dir.file("gradient.tiff")
        try jpeg.write(to: url) { level, origin, size in
            var r = Raster(width: size.width, height: size.height)
            for y in 0..<size.height {
                for x in 0..<size.width {
                    let v = gradient(level, origin.x + x, origin.y + y)
                    r.pixels.replaceSubrange(((y * size.width + x) * 3)..<((y * size.width + x) * 3 + 3), with: v)
                }
            }
            return r
        }
        let slide = try openSlide(at: url)
        #expect(slide.metadata.format == "generic-tiff")
        #expect(slide.levelCount == 2)
        for level in 0..<2 {
            let size = jpeg.sizeAtLevel(level)
            let region = try slide.readRegion(originLevel0: .init(x: 0, y: 0), level: level, sizeAtLevel: size)
            var worst = 0
            for y in 0..<size.height {
                for x in 0..<size.width {
                    let expected = gradient(level, x, y)
                    for c in 0..<3 { worst = max(worst, abs(Int(region.pixels[(y * size.width + x) * 3 + c]) - Int(expected[c]))) }
                }
            }
            #expect(worst <= 6, "level \(level): JPEG error \(worst)")
        }
    }

    @Test func thumbnailFitsAndAverages() throws {
        let url = dir.file("squares.tiff")
        let squares = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 1024, height: 512), levelCount: 3, tileSize: 128)
        // The left half is black, the right half white.
        try TestSlides.writeSquares(to: url, writer: squares,
                                    squares: [(PixelPoint(x: 0, y: 0), PixelSize(width: 512, height: 512))],
                                    color: (0, 0, 0))
        let slide = try openSlide(at: url)
        let thumb = try slide.thumbnail(maxSize: PixelSize(width: 64, height: 64))
        #expect(thumb.width == 64 && thumb.height == 32)
        #expect(Array(thumb.pixel(x: 0, y: 0)) == [0, 0, 0])
        #expect(Array(thumb.pixel(x: 31, y: 31)) == [0, 0, 0])
        #expect(Array(thumb.pixel(x: 32, y: 0)) == [255, 255, 255])
        #expect(slide.bestLevel(forDownsample: 16) == 2)
        #expect(slide.bestLevel(forDownsample: 3.9) == 1)
        #expect(slide.bestLevel(forDownsample: 1) == 0)
    }

    /// Levels smaller than one tile get a smaller tile, which OpenSlide 3.4.1 reads correctly.
    @Test func levelsSmallerThanATile() throws {
        #expect(writer.tileSize(atLevel: 0) == 256)
        #expect(writer.tileSize(atLevel: 2) == 160)
        let url = dir.file("small.tiff")
        let small = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 255, height: 100), tileSize: 256)
        try TestSlides.writePatterned(to: url, writer: small)
        let slide = try openSlide(at: url)
        let size = PixelSize(width: 255, height: 100)
        let region = try slide.readRegion(originLevel0: .init(x: 0, y: 0), level: 0, sizeAtLevel: size)
        let expected = TestSlides.expectedPattern(level: 0, originAtLevel: .init(x: 0, y: 0), size: size, levelSize: size)
        #expect(maxAbsDifference(region, expected) == 0)
    }

    @Test func writeIsAtomic() throws {
        let url = dir.file("failing.tiff")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try writer.write(to: url) { level, _, size in
                if level == 1 { throw Boom() }
                return Raster(width: size.width, height: size.height)
            }
        }
        #expect(dir.contents().isEmpty, "a failed write left \(dir.contents())")
    }
}
