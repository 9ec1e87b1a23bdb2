/// An 8-bit raster image: `channels` interleaved samples per pixel, rows top to bottom,
/// no row padding. Sample `c` of pixel (x, y) is `pixels[(y * width + x) * channels + c]`.
///
/// `channels` is 1 (grey), 3 (RGB) or 4 (RGBA, straight alpha).
public struct Raster: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]

    /// A raster filled with one value per channel (`fill.count == channels`).
    public init(width: Int, height: Int, channels: Int = 3, fill: [UInt8]? = nil) {
        precondition(width >= 0 && height >= 0, "Raster: negative size \(width)×\(height)")
        precondition([1, 3, 4].contains(channels), "Raster: channels must be 1, 3 or 4, got \(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        let count = width * height * channels
        if let fill {
            precondition(fill.count == channels, "Raster: fill has \(fill.count) values for \(channels) channels")
            if fill.allSatisfy({ $0 == fill[0] }) {
                self.pixels = [UInt8](repeating: fill[0], count: count)
                return
            }
            var pixels = [UInt8](repeating: 0, count: count)
            if count > 0 {
                for i in stride(from: 0, to: count, by: channels) {
                    for c in 0..<channels { pixels[i + c] = fill[c] }
                }
            }
            self.pixels = pixels
        } else {
            self.pixels = [UInt8](repeating: 0, count: count)
        }
    }

    /// Wraps existing samples; `pixels.count` must be `width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition([1, 3, 4].contains(channels), "Raster: channels must be 1, 3 or 4, got \(channels)")
        precondition(pixels.count == width * height * channels,
                     "Raster: \(pixels.count) samples for \(width)×\(height)×\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The samples of pixel (x, y).
    @inlinable
    public func pixel(x: Int, y: Int) -> ArraySlice<UInt8> {
        let i = (y * width + x) * channels
        return pixels[i..<(i + channels)]
    }

    /// The rectangle at (x, y) of the given size, which must lie inside the raster.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Raster {
        precondition(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= width && y + h <= height,
                     "Raster.cropped: (\(x), \(y)) \(w)×\(h) is outside \(width)×\(height)")
        var out = Raster(width: w, height: h, channels: channels)
        let rowBytes = w * channels
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for row in 0..<h {
                    let s = ((y + row) * width + x) * channels
                    for i in 0..<rowBytes { dst[row * rowBytes + i] = src[s + i] }
                }
            }
        }
        return out
    }

    /// The same image with 3 channels: grey is replicated, RGBA is composited over `background`.
    public func toRGB(background: (UInt8, UInt8, UInt8) = (255, 255, 255)) -> Raster {
        switch channels {
        case 3:
            return self
        case 1:
            var out = Raster(width: width, height: height, channels: 3)
            for i in 0..<(width * height) {
                let v = pixels[i]
                out.pixels[3 * i] = v; out.pixels[3 * i + 1] = v; out.pixels[3 * i + 2] = v
            }
            return out
        default:
            var out = Raster(width: width, height: height, channels: 3)
            let bg = [UInt32(background.0), UInt32(background.1), UInt32(background.2)]
            for i in 0..<(width * height) {
                let a = UInt32(pixels[4 * i + 3])
                for c in 0..<3 {
                    let v = UInt32(pixels[4 * i + c])
                    out.pixels[3 * i + c] = UInt8((v * a + bg[c] * (255 - a) + 127) / 255)
                }
            }
            return out
        }
    }
}
