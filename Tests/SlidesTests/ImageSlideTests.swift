import Foundation
import Imaging
import Slides
import Testing
import _TestSupport

/// Plain TIFF and PNG images opened as one-level slides.
@Suite struct ImageSlideTests {
    let patchTIFF = TestPaths.samples.appendingPathComponent("patches/0043c12289c78106346614caf7bd1a525f40b1d7.tif")

    @Test func pcamTIFFPatchIsAOneLevelSlide() throws {
        // PCam patches are stripped TIFFs, which OpenSlide does not open.
        let slide = try openSlide(at: patchTIFF)
        #expect(slide is ImageSlide)
        #expect(slide.metadata.format == "tiff")
        #expect(slide.metadata.levels == [SlideLevel(index: 0, sizeAtLevel: PixelSize(width: 96, height: 96), downsample: 1)])
        #expect(slide.metadata.resolution == .unknown)
    }

    @Test func pngAndTIFFOfTheSamePatchReadTheSame() throws {
        let tiff = try openSlide(at: patchTIFF)
        let png = try openSlide(at: TestPaths.fixtures.appendingPathComponent("pcam-patch.png"))
        #expect(png.metadata.format == "png")
        let size = PixelSize(width: 96, height: 96)
        let a = try tiff.readRegion(originLevel0: .init(x: 0, y: 0), level: 0, sizeAtLevel: size)
        let b = try png.readRegion(originLevel0: .init(x: 0, y: 0), level: 0, sizeAtLevel: size)
        #expect(a == b)
        // An offset window: the overlap is copied, the rest is white.
        let shifted = try png.readRegion(originLevel0: .init(x: 90, y: -3), level: 0, sizeAtLevel: .init(width: 10, height: 10))
        #expect(Array(shifted.pixel(x: 0, y: 3)) == Array(a.pixel(x: 90, y: 0)))
        #expect(Array(shifted.pixel(x: 5, y: 5)) == Array(a.pixel(x: 95, y: 2)))
        #expect(Array(shifted.pixel(x: 6, y: 5)) == [255, 255, 255])
        #expect(Array(shifted.pixel(x: 0, y: 2)) == [255, 255, 255])
    }

    @Test func tiffResolutionTagsGiveMPP() throws {
        let slide = try openSlide(at: TestPaths.fixtures.appendingPathComponent("pcam-patch-with-resolution.tif"))
        let r = slide.metadata.resolution
        #expect(r.source == .tiffResolution)
        #expect(abs(r.mppX! - 0.972) < 1e-4 && abs(r.mppY! - 0.972) < 1e-4)
    }

    @Test func rgbaIsCompositedOverWhite() throws {
        let rgba = try PNG.read(TestPaths.fixtures.appendingPathComponent("pcam-patch-rgba.png"))
        #expect(rgba.channels == 4)
        let slide = try openSlide(at: TestPaths.fixtures.appendingPathComponent("pcam-patch-rgba.png"))
        let region = try slide.readRegion(originLevel0: .init(x: 0, y: 0), level: 0, sizeAtLevel: .init(width: 96, height: 96))
        #expect(region == rgba.toRGB())
        // Where alpha is 0 the result is white; where it is 255, the colour itself.
        for y in [0, 95] {
            let alpha = rgba.pixels[(y * 96 + 10) * 4 + 3]
            let rgb = Array(rgba.pixel(x: 10, y: y).prefix(3))
            if alpha == 0 { #expect(Array(region.pixel(x: 10, y: y)) == [255, 255, 255]) }
            if alpha == 255 { #expect(Array(region.pixel(x: 10, y: y)) == rgb) }
        }
    }
}
