import Foundation
@testable import Imaging
import Testing
import _TestSupport

@Suite struct PNGTests {
    let dir = TemporaryDirectory()

    @Test(arguments: [1, 3, 4])
    func roundTrip(channels: Int) throws {
        var raster = Raster(width: 37, height: 11, channels: channels)
        for i in raster.pixels.indices { raster.pixels[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        let url = dir.file("r\(channels).png")
        try PNG.write(raster, to: url)
        let back = try PNG.read(url)
        // Grey comes back as RGB; colour images come back unchanged.
        #expect(back == (channels == 1 ? raster.toRGB() : raster))
        #expect(dir.contents() == ["r\(channels).png"], "temporary files left: \(dir.contents())")
    }

    @Test func decodesPillowsPNGLikeLibtiffDecodesTheTIFF() throws {
        let png = try PNG.read(TestPaths.fixtures.appendingPathComponent("pcam-patch.png"))
        let tiff = try TIFFImage.read(TestPaths.samples.appendingPathComponent("patches/0043c12289c78106346614caf7bd1a525f40b1d7.tif"))
        #expect(png.width == 96 && png.height == 96 && png.channels == 3)
        #expect(png == tiff.raster)
    }

    @Test func garbageIsAnErrorNamingTheFile() throws {
        let url = dir.file("garbage.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: url)
        #expect {
            try PNG.read(url)
        } throws: { error in
            guard case ImagingError.unreadable(let path, _) = error else { return false }
            return path == url.path
        }
    }

    @Test func writingIntoAMissingDirectoryFailsCleanly() {
        let url = dir.url.appendingPathComponent("no/such/dir/x.png")
        #expect(throws: ImagingError.self) { try PNG.write(Raster(width: 2, height: 2), to: url) }
    }
}

@Suite struct TIFFImageTests {
    @Test func pcamPatch() throws {
        let decoded = try TIFFImage.read(TestPaths.samples.appendingPathComponent("patches/0011a007b64a4a0f351ee4d7d00f237b1713b9bf.tif"))
        #expect(decoded.raster.width == 96 && decoded.raster.height == 96 && decoded.raster.channels == 3)
        #expect(decoded.micronsPerPixel == nil)
    }

    @Test func resolutionUnits() {
        let cm = TIFFImage.micronsPerPixel(xResolution: 20_000, yResolution: 10_000, unit: 3)
        #expect(cm?.x == 0.5 && cm?.y == 1.0)
        let inch = TIFFImage.micronsPerPixel(xResolution: 25_400, yResolution: 25_400, unit: 2)
        #expect(inch?.x == 1.0)
        #expect(TIFFImage.micronsPerPixel(xResolution: 72, yResolution: 72, unit: 1) == nil)
        #expect(TIFFImage.micronsPerPixel(xResolution: 0, yResolution: 72, unit: 3) == nil)
    }

    @Test func notATIFF() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("x.tif")
        try Data("hello".utf8).write(to: url)
        #expect(throws: ImagingError.self) { try TIFFImage.read(url) }
    }
}

@Suite struct ResampleTests {
    @Test func constantStaysConstant() {
        let r = Raster(width: 97, height: 41, channels: 3, fill: [200, 100, 50])
        let out = r.resampledArea(width: 50, height: 21)
        #expect(out == Raster(width: 50, height: 21, channels: 3, fill: [200, 100, 50]))
    }

    @Test func halvingIsTheMeanOfEach2x2Block() {
        var r = Raster(width: 4, height: 2, channels: 1)
        r.pixels = [0, 10, 20, 30,
                    40, 50, 60, 70]
        let out = r.resampledArea(width: 2, height: 1)
        #expect(out.pixels == [25, 45])
    }

    /// 3 → 2 pixels: output 0 covers source [0, 1.5), so its weights are 2/3 and 1/3.
    @Test func fractionalWeights() {
        var r = Raster(width: 3, height: 1, channels: 1)
        r.pixels = [0, 90, 180]
        let out = r.resampledArea(width: 2, height: 1)
        #expect(out.pixels == [30, 150])
    }

    @Test func tapsSumToOne() {
        for (s, t) in [(2220, 1142), (96, 96), (187, 96), (5, 13)] {
            let taps = Raster.areaTaps(source: s, target: t)
            for row in taps { #expect(abs(row.reduce(0) { $0 + $1.1 } - 1) < 1e-5) }
        }
    }
}

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var h = SHA256()
        for _ in 0..<1000 { h.update(Data(repeating: 0x61, count: 1000)) }
        #expect(h.finalize() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")  // "a" × 10^6
    }

    @Test func sampleSlideMatchesItsProvenance() {
        #expect(SHA256.hex(fileAt: TestPaths.cmuSlide) == "ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7")
    }
}
