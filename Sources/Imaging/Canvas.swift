import Foundation

/// An RGB colour, 8 bits per channel.
public struct Color: Sendable, Equatable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let white = Color(255, 255, 255)
    public static let black = Color(0, 0, 0)
    public static let grey = Color(128, 128, 128)
    public static let lightGrey = Color(225, 225, 225)
    // The Okabe–Ito palette, distinguishable with the common colour-vision deficiencies.
    public static let blue = Color(0, 114, 178)
    public static let orange = Color(230, 159, 0)
    public static let vermillion = Color(213, 94, 0)
    public static let green = Color(0, 158, 115)
    public static let purple = Color(204, 121, 167)
}

/// A drawing surface over an RGBA raster: rectangles, anti-aliased lines and text.
/// Coordinates are pixels, x to the right and y down.
public struct Canvas: Sendable {
    public var raster: Raster

    public init(width: Int, height: Int, background: Color = .white, opaque: Bool = true) {
        raster = Raster(width: width, height: height, channels: 4,
                        fill: [background.r, background.g, background.b, opaque ? 255 : 0])
    }

    public init(_ raster: Raster) {
        self.raster = raster.channels == 4 ? raster : Self.rgba(raster.toRGB())
    }

    static func rgba(_ rgb: Raster) -> Raster {
        var out = Raster(width: rgb.width, height: rgb.height, channels: 4)
        for i in 0..<(rgb.width * rgb.height) {
            out.pixels[4 * i] = rgb.pixels[3 * i]; out.pixels[4 * i + 1] = rgb.pixels[3 * i + 1]
            out.pixels[4 * i + 2] = rgb.pixels[3 * i + 2]; out.pixels[4 * i + 3] = 255
        }
        return out
    }

    public var width: Int { raster.width }
    public var height: Int { raster.height }

    /// Blends `color` at coverage `alpha` (0...1) over pixel (x, y), "over" compositing.
    @inline(__always)
    public mutating func blend(x: Int, y: Int, _ color: Color, alpha: Double) {
        guard x >= 0, y >= 0, x < raster.width, y < raster.height, alpha > 0 else { return }
        let a = min(1, alpha)
        let i = (y * raster.width + x) * 4
        let dstA = Double(raster.pixels[i + 3]) / 255
        let outA = a + dstA * (1 - a)
        func mix(_ src: UInt8, _ dst: UInt8) -> UInt8 {
            guard outA > 0 else { return 0 }
            return UInt8(((Double(src) * a + Double(dst) * dstA * (1 - a)) / outA).rounded())
        }
        raster.pixels[i] = mix(color.r, raster.pixels[i])
        raster.pixels[i + 1] = mix(color.g, raster.pixels[i + 1])
        raster.pixels[i + 2] = mix(color.b, raster.pixels[i + 2])
        raster.pixels[i + 3] = UInt8((outA * 255).rounded())
    }

    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, _ color: Color, alpha: Double = 1) {
        // Clipped to the canvas; a rectangle wholly outside it (or of negative size) draws nothing.
        for yy in Swift.stride(from: max(0, y), to: min(raster.height, y + h), by: 1) {
            for xx in Swift.stride(from: max(0, x), to: min(raster.width, x + w), by: 1) { blend(x: xx, y: yy, color, alpha: alpha) }
        }
    }

    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, _ color: Color) {
        fillRect(x: x, y: y, width: w, height: 1, color)
        fillRect(x: x, y: y + h - 1, width: w, height: 1, color)
        fillRect(x: x, y: y, width: 1, height: h, color)
        fillRect(x: x + w - 1, y: y, width: 1, height: h, color)
    }

    /// An anti-aliased line of the given width, drawn by distance to the segment.
    public mutating func line(from p0: (Double, Double), to p1: (Double, Double), _ color: Color, width lineWidth: Double = 1.5) {
        let r = lineWidth / 2
        guard [p0.0, p0.1, p1.0, p1.1, r].allSatisfy({ $0.isFinite && abs($0) < 1e9 }) else { return }
        let minX = Int((min(p0.0, p1.0) - r - 1).rounded(.down)), maxX = Int((max(p0.0, p1.0) + r + 1).rounded(.up))
        let minY = Int((min(p0.1, p1.1) - r - 1).rounded(.down)), maxY = Int((max(p0.1, p1.1) + r + 1).rounded(.up))
        let dx = p1.0 - p0.0, dy = p1.1 - p0.1
        let length2 = dx * dx + dy * dy
        for y in Swift.stride(from: max(0, minY), through: min(raster.height - 1, maxY), by: 1) {
            for x in Swift.stride(from: max(0, minX), through: min(raster.width - 1, maxX), by: 1) {
                let px = Double(x) + 0.5, py = Double(y) + 0.5
                let t = length2 > 0 ? max(0, min(1, ((px - p0.0) * dx + (py - p0.1) * dy) / length2)) : 0
                let cx = p0.0 + t * dx - px, cy = p0.1 + t * dy - py
                let d = (cx * cx + cy * cy).squareRoot()
                let coverage = max(0, min(1, r + 0.5 - d))
                if coverage > 0 { blend(x: x, y: y, color, alpha: coverage) }
            }
        }
    }

    /// A polyline through `points`.
    public mutating func polyline(_ points: [(Double, Double)], _ color: Color, width: Double = 1.5) {
        for (a, b) in zip(points, points.dropFirst()) { line(from: a, to: b, color, width: width) }
        if points.count == 1 { fillRect(x: Int(points[0].0) - 1, y: Int(points[0].1) - 1, width: 3, height: 3, color) }
    }

    public enum Anchor { case left, center, right }

    /// The width of `text` in pixels.
    public static func textWidth(_ text: String) -> Int {
        text.reduce(0) { $0 + (Font.glyph($1)?.advance ?? Font.glyph("?")!.advance) }
    }

    public static var lineHeight: Int { FontData.lineHeight }

    /// Draws one line of text with its top at `y`.
    public mutating func text(_ text: String, x: Int, y: Int, _ color: Color = .black, anchor: Anchor = .left) {
        var pen = switch anchor {
        case .left: x
        case .center: x - Self.textWidth(text) / 2
        case .right: x - Self.textWidth(text)
        }
        for ch in text {
            guard let g = Font.glyph(ch) ?? Font.glyph("?") else { continue }
            for gy in 0..<FontData.lineHeight {
                for gx in 0..<g.width {
                    let a = Font.alpha[g.offset + gy * g.width + gx]
                    if a > 0 { blend(x: pen + gx, y: y + gy, color, alpha: Double(a) / 255) }
                }
            }
            pen += g.advance
        }
    }

    /// Text rotated 90° anticlockwise (reading upwards), centred on (x, y).
    public mutating func verticalText(_ text: String, x: Int, y: Int, _ color: Color = .black) {
        var strip = Canvas(width: Self.textWidth(text), height: FontData.lineHeight, background: .white, opaque: false)
        strip.text(text, x: 0, y: 0, color)
        let w = strip.width, h = strip.height
        for sy in 0..<h {
            for sx in 0..<w {
                let i = (sy * w + sx) * 4
                let a = strip.raster.pixels[i + 3]
                if a > 0 { blend(x: x - h / 2 + sy, y: y + w / 2 - sx, color, alpha: Double(a) / 255) }
            }
        }
    }

    /// Copies `image` (RGB or RGBA) with its top-left at (x, y), scaled by an integer factor.
    public mutating func draw(_ image: Raster, x: Int, y: Int, scale: Int = 1, alpha: Double = 1) {
        let c = image.channels
        for sy in 0..<(image.height * scale) {
            for sx in 0..<(image.width * scale) {
                let i = ((sy / scale) * image.width + sx / scale) * c
                let a = c == 4 ? Double(image.pixels[i + 3]) / 255 : 1
                let color = c == 1 ? Color(image.pixels[i], image.pixels[i], image.pixels[i])
                    : Color(image.pixels[i], image.pixels[i + 1], image.pixels[i + 2])
                blend(x: x + sx, y: y + sy, color, alpha: a * alpha)
            }
        }
    }
}

enum Font {
    struct Glyph { var width: Int; var advance: Int; var offset: Int }
    static let alpha: [UInt8] = [UInt8](Data(base64Encoded: FontData.alphaBase64)!)
    static let table: [Character: Glyph] = Dictionary(uniqueKeysWithValues: FontData.glyphs.map {
        ($0.0, Glyph(width: $0.1, advance: $0.2, offset: $0.3))
    })
    static func glyph(_ c: Character) -> Glyph? { table[c] }
}
