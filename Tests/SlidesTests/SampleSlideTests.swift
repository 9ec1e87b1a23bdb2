import Foundation
import Imaging
import Slides
import Testing
import _TestSupport

/// The two real Aperio slides in Samples/slides.
@Suite struct SampleSlideTests {
    @Test func cmuSmallRegion() throws {
        let slide = try openSlide(at: TestPaths.cmuSlide)
        let m = slide.metadata
        #expect(m.format == "aperio")
        #expect(m.levels.count == 1)
        #expect(m.sizeLevel0 == PixelSize(width: 2220, height: 2967))
        #expect(m.resolution == Resolution(mppX: 0.499, mppY: 0.499, source: .openslideMPP))
        #expect(m.objectivePower == 20)
        #expect(m.quickHash1?.count == 64)
        #expect(m.associatedImages.map(\.name) == ["label", "macro", "thumbnail"])
        #expect(m.associatedImages.first { $0.name == "label" }?.size == PixelSize(width: 387, height: 463))

        // The centre of the section is stained tissue: far from white on average.
        let region = try slide.readRegion(originLevel0: PixelPoint(x: 1000, y: 1400), level: 0,
                                          sizeAtLevel: PixelSize(width: 96, height: 96))
        let mean = Double(region.pixels.reduce(0) { $0 + Int($1) }) / Double(region.pixels.count)
        #expect(mean < 220, "mean intensity \(mean) looks like glass")

        let label = try slide.associatedImage(named: "label")
        #expect(label.width == 387 && label.height == 463)
        #expect(throws: SlideError.self) { try slide.associatedImage(named: "nope") }

        let thumb = try slide.thumbnail(maxSize: PixelSize(width: 200, height: 200))
        #expect(thumb.height == 200 && thumb.width == 150)
    }

    @Test func tcgaJPEG2000WithoutMPP() throws {
        let slide = try openSlide(at: TestPaths.tcgaSlide)
        let m = slide.metadata
        #expect(m.format == "aperio")
        #expect(m.levels.map(\.sizeAtLevel) == [PixelSize(width: 4443, height: 3567), PixelSize(width: 2221, height: 1783)])
        #expect(m.resolution == .unknown)
        #expect(m.objectivePower == nil)
        // Level 1 decodes through OpenSlide's JPEG 2000 codec.
        let region = try slide.readRegion(originLevel0: PixelPoint(x: 2000, y: 1600), level: 1,
                                          sizeAtLevel: PixelSize(width: 128, height: 128))
        let distinct = Set(stride(from: 0, to: region.pixels.count, by: 3).map { region.pixels[$0] })
        #expect(distinct.count > 20, "a decoded H&E region has many shades, got \(distinct.count)")
    }
}
