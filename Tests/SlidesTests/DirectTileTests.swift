import Foundation
import Imaging
import Slides
import Testing
import _TestSupport

/// The direct libtiff tile decoder against OpenSlide's own reads of the same regions.
@Suite struct DirectTileTests {
    let dir = TemporaryDirectory()

    /// Seeded regions over every level: inside, across tile seams, and through the edges.
    func regions(for slide: OpenSlideSlide, count: Int, seed: UInt64) -> [(level: Int, origin: PixelPoint, size: PixelSize)] {
        var rng = Mixer(state: seed)
        var out: [(Int, PixelPoint, PixelSize)] = []
        for level in slide.metadata.levels {
            let w = level.sizeAtLevel.width, h = level.sizeAtLevel.height
            let ds = Int(level.downsample.rounded())
            for _ in 0..<count {
                let rw = 1 + Int(rng.next() % UInt64(min(w, 300))), rh = 1 + Int(rng.next() % UInt64(min(h, 300)))
                // Up to 40 px before the origin and past the far edges.
                let x = Int(rng.next() % UInt64(w + 80)) - 40, y = Int(rng.next() % UInt64(h + 80)) - 40
                guard x + rw > 0, y + rh > 0, x < w, y < h else { continue }
                out.append((level.index, PixelPoint(x: x * ds, y: y * ds), PixelSize(width: rw, height: rh)))
            }
        }
        return out
    }

    func expectSamePixels(_ url: URL, expectDirect: [Bool], count: Int = 40) throws {
        let direct = try OpenSlideSlide(url: url, directTiles: true)
        let reference = try OpenSlideSlide(url: url, directTiles: false)
        for (level, origin, size) in regions(for: direct, count: count, seed: 7) {
            let a = try direct.readRegion(originLevel0: origin, level: level, sizeAtLevel: size)
            let b = try reference.readRegion(originLevel0: origin, level: level, sizeAtLevel: size)
            #expect(a == b, "level \(level), origin \(origin), size \(size): max |Δ| \(maxAbsDifference(a, b))")
        }
        // Origins at any level-0 pixel, not only at multiples of the downsample: between level
        // pixels OpenSlide interpolates, and the direct path must not be taken.
        var rng = Mixer(state: 17)
        let size0 = direct.metadata.sizeLevel0
        for _ in 0..<20 {
            let level = Int(rng.next() % UInt64(direct.metadata.levels.count))
            let origin = PixelPoint(x: Int(rng.next() % UInt64(size0.width)), y: Int(rng.next() % UInt64(size0.height)))
            let size = PixelSize(width: 1 + Int(rng.next() % 150), height: 1 + Int(rng.next() % 150))
            let a = try direct.readRegion(originLevel0: origin, level: level, sizeAtLevel: size)
            let b = try reference.readRegion(originLevel0: origin, level: level, sizeAtLevel: size)
            #expect(a == b, "level \(level), origin \(origin), size \(size): max |Δ| \(maxAbsDifference(a, b))")
        }
        for level in expectDirect.indices {
            #expect(direct.readsDirectly(level: level) == expectDirect[level], "level \(level)")
            #expect(!reference.readsDirectly(level: level))
        }
    }

    @Test func aperioJPEGSampleMatchesOpenSlide() throws {
        try expectSamePixels(TestPaths.cmuSlide, expectDirect: [true])
    }

    /// JPEG 2000 tiles are beyond libtiff: OpenSlide reads every level.
    @Test func aperioJPEG2000FallsBackToOpenSlide() throws {
        let slide = try OpenSlideSlide(url: TestPaths.tcgaSlide, directTiles: true)
        _ = try slide.readRegion(originLevel0: PixelPoint(x: 100, y: 100), level: 0, sizeAtLevel: PixelSize(width: 64, height: 64))
        _ = try slide.readRegion(originLevel0: PixelPoint(x: 100, y: 100), level: 1, sizeAtLevel: PixelSize(width: 64, height: 64))
        #expect(!slide.readsDirectly(level: 0) && !slide.readsDirectly(level: 1))
    }

    @Test(arguments: [PyramidalTIFFWriter.Compression.deflate, .jpeg(quality: 90)])
    func generatedPyramidMatchesOpenSlide(compression: PyramidalTIFFWriter.Compression) throws {
        // 1000 × 700 with 256-px tiles: partial edge tiles on every level.
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 1000, height: 700), levelCount: 3, tileSize: 256,
                                         compression: compression, micronsPerPixel: (0.5, 0.5))
        let url = dir.file("pyramid.tiff")
        try TestSlides.writePatterned(to: url, writer: writer)
        try expectSamePixels(url, expectDirect: [true, true, true])
    }

    /// A level whose downsample is not an integer (1001 × 701 → 501 × 351): OpenSlide
    /// interpolates origins between its pixels, so only reads at whole-pixel origins (a
    /// thumbnail's read of the whole level) may be decoded directly, and every read, at any
    /// origin, must still give OpenSlide's pixels. Regions here start at any level-0 pixel,
    /// not only at multiples of the downsample.
    @Test func nonIntegerDownsampleReadsWholePixelOriginsDirectly() throws {
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 1001, height: 701), levelCount: 2, tileSize: 128,
                                         compression: .jpeg(quality: 90), micronsPerPixel: (0.5, 0.5))
        let url = dir.file("odd.tiff")
        try TestSlides.writePatterned(to: url, writer: writer)
        let direct = try OpenSlideSlide(url: url, directTiles: true)
        let reference = try OpenSlideSlide(url: url, directTiles: false)
        let level = direct.metadata.levels[1]
        #expect(level.downsample != level.downsample.rounded())
        let whole = try direct.readRegion(originLevel0: PixelPoint(x: 0, y: 0), level: 1, sizeAtLevel: level.sizeAtLevel)
        #expect(whole == (try reference.readRegion(originLevel0: PixelPoint(x: 0, y: 0), level: 1, sizeAtLevel: level.sizeAtLevel)))
        #expect(direct.readsDirectly(level: 1))
        var rng = Mixer(state: 13)
        for _ in 0..<60 {
            let l = Int(rng.next() % 2)
            let origin = PixelPoint(x: Int(rng.next() % 1001), y: Int(rng.next() % 701))
            let size = PixelSize(width: 1 + Int(rng.next() % 200), height: 1 + Int(rng.next() % 200))
            let a = try direct.readRegion(originLevel0: origin, level: l, sizeAtLevel: size)
            let b = try reference.readRegion(originLevel0: origin, level: l, sizeAtLevel: size)
            #expect(a == b, "level \(l), origin \(origin), size \(size): max |Δ| \(maxAbsDifference(a, b))")
        }
    }

    /// The tile cache evicts under a small bound and still gives the same pixels.
    @Test func smallCacheStillReadsTheSame() throws {
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 1000, height: 700), levelCount: 1, tileSize: 64,
                                         compression: .deflate, micronsPerPixel: (0.5, 0.5))
        let url = dir.file("small-tiles.tiff")
        try TestSlides.writePatterned(to: url, writer: writer)
        let direct = try OpenSlideSlide(url: url, directTiles: true)
        direct.directTileCacheLimit = 4 * 64 * 64 * 3
        let reference = try OpenSlideSlide(url: url, directTiles: false)
        for (level, origin, size) in regions(for: direct, count: 30, seed: 11) {
            let a = try direct.readRegion(originLevel0: origin, level: level, sizeAtLevel: size)
            #expect(a == (try reference.readRegion(originLevel0: origin, level: level, sizeAtLevel: size)))
        }
        #expect(direct.readsDirectly(level: 0))
    }
}

/// SplitMix64, local to these tests.
private struct Mixer {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
