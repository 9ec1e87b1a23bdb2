import Foundation
import Imaging
import Testing
import _TestSupport

@Suite struct JPEGTests {
    static let names = ["0000a341cee8eb5f97e5a7c6c9e0b02b4cc81c40", "00d83693be2fb044e9cdd346606b4ed85d81b459"]
    let folder = TestPaths.fixtures.appendingPathComponent("pcam-jpeg")

    /// Real PCam JPEG patches decode as Pillow decodes them. Both use the accurate integer
    /// IDCT with fancy upsampling; a conforming decoder may still differ by one level in a
    /// sample (ISO/IEC 10918-2 allows that much IDCT error), so 1 is the bound.
    @Test(arguments: names) func decodesLikePillow(_ name: String) throws {
        let ours = try JPEG.read(folder.appendingPathComponent("\(name).jpg"))
        let pillow = try PNG.read(folder.appendingPathComponent("\(name).pillow.png"))
        #expect(ours.width == 96 && ours.height == 96 && ours.channels == 3)
        let worst = zip(ours.pixels, pillow.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 99
        #expect(worst <= 1)
    }

    /// A truncated file or a damaged header is an error naming the file, never a grey patch.
    @Test func damagedFilesAreErrors() throws {
        let dir = TemporaryDirectory()
        let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent("\(Self.names[0]).jpg")))
        var flipped = bytes
        flipped[2] ^= 0xFF  // the first marker after SOI
        for (label, data) in [("truncated", Array(bytes.prefix(bytes.count * 6 / 10))), ("flipped", flipped), ("empty", [])] {
            let url = dir.file("\(label).jpg")
            try Data(data).write(to: url)
            #expect {
                _ = try JPEG.read(url)
            } throws: { error in
                "\(error)".contains("\(label).jpg") && "\(error)".contains("cannot read image")
            }
        }
    }

    /// Re-encoding loses more at lower quality, and keeps the size.
    @Test func roundTripDegradesWithQuality() throws {
        let patch = try JPEG.read(folder.appendingPathComponent("\(Self.names[1]).jpg"))
        func error(_ quality: Int) throws -> Double {
            let back = try JPEG.roundTrip(patch, quality: quality)
            #expect(back.width == 96 && back.height == 96 && back.channels == 3)
            return zip(back.pixels, patch.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(patch.pixels.count)
        }
        let (high, middle, low) = (try error(95), try error(50), try error(10))
        #expect(high < middle && middle < low)
        #expect(throws: ImagingError.self) { _ = try JPEG.encode(patch, quality: 0) }
    }
}
