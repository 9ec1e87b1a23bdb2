import Foundation
import Imaging
import Neural

/// Which training augmentations are on, and how strong. Recorded in the bundle.
///
/// - `dihedral`: one of the 8 flips and rotations of the square (D4).
/// - `colorJitter`: brightness, contrast and saturation ±10 %, hue ±0.02 turns.
/// - `hed`: stain augmentation in haematoxylin–eosin–DAB space (Tellez et al. 2019): each
///   stain's optical density s becomes α·s + β with α ∈ 1 ± hed and β ∈ ±hed (in optical
///   density units, −ln of the intensity), using Ruifrok and Johnston's stain vectors.
/// - `jpegProbability`, `jpegQuality`: re-encode the patch as JPEG 4:2:0 at a quality drawn
///   from the range, as scanners and public copies of PatchCamelyon store patches.
/// - `scale`: zoom about the centre by a factor in 1 ± scale (bilinear; the edge repeats),
///   as µm per pixel differs a little between scanners.
/// - `blurProbability`, `blurSigma`: Gaussian blur with σ drawn from 0.3…blurSigma pixels,
///   as focus varies across a slide.
public struct Augmentation: Sendable, Codable, Equatable {
    public var dihedral = true
    public var colorJitter = true
    public var hed = 0.0
    public var jpegProbability = 0.0
    public var jpegQuality = [50, 95]
    public var scale = 0.0
    public var blurProbability = 0.0
    public var blurSigma = 1.0

    public init() {}

    /// D4 and colour jitter: what the first bundled model was trained with.
    public static let standard = Augmentation()
    /// `standard` plus every robustness transform at its default strength.
    public static var robust: Augmentation {
        var a = Augmentation()
        a.hed = 0.1
        a.jpegProbability = 0.5
        a.scale = 0.1
        a.blurProbability = 0.2
        return a
    }

    public var usesRobustTransforms: Bool { hed > 0 || jpegProbability > 0 || scale > 0 || blurProbability > 0 }

    /// The names `--augment` takes.
    public static let names = ["d4", "jitter", "hed", "jpeg", "scale", "blur"]

    /// Parses `--augment`: `none`, `standard` (d4,jitter), `robust` (all), or a comma-separated
    /// list of d4, jitter, hed, jpeg, scale and blur, each at its default strength.
    public init(parsing text: String) throws(DatasetError) {
        self.init()
        let words = text.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if words == ["standard"] { self = .standard; return }
        if words == ["robust"] { self = .robust; return }
        dihedral = false
        colorJitter = false
        if words == ["none"] { return }
        let robust = Augmentation.robust
        for word in words {
            switch word {
            case "d4": dihedral = true
            case "jitter": colorJitter = true
            case "hed": hed = robust.hed
            case "jpeg": jpegProbability = robust.jpegProbability
            case "scale": scale = robust.scale
            case "blur": blurProbability = robust.blurProbability
            default:
                throw DatasetError(path: "--augment", problem: "unknown augmentation '\(word)'",
                                   hint: "use none, standard, robust, or a list of \(Self.names.joined(separator: ", "))")
            }
        }
    }

    /// A short description, e.g. "d4, jitter, hed 0.1, jpeg p0.5 q50-95".
    public var summary: String {
        var parts: [String] = []
        if dihedral { parts.append("d4") }
        if colorJitter { parts.append("jitter") }
        if hed > 0 { parts.append("hed \(hed)") }
        if jpegProbability > 0 { parts.append("jpeg p\(jpegProbability) q\(jpegQuality[0])-\(jpegQuality[1])") }
        if scale > 0 { parts.append("scale ±\(scale)") }
        if blurProbability > 0 { parts.append("blur p\(blurProbability) σ≤\(blurSigma)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

/// Ruifrok and Johnston's stain vectors (haematoxylin, eosin, DAB; rows normalised) and their
/// inverse, as scikit-image's `rgb2hed` uses them.
enum StainMatrix {
    static let rgbFromHED: [[Double]] = {
        let rows = [[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]]
        return rows.map { r in let n = (r.map { $0 * $0 }.reduce(0, +)).squareRoot(); return r.map { $0 / n } }
    }()
    static let hedFromRGB: [[Double]] = invert3(rgbFromHED)

    static func invert3(_ m: [[Double]]) -> [[Double]] {
        let a = m[0][0], b = m[0][1], c = m[0][2], d = m[1][0], e = m[1][1], f = m[1][2], g = m[2][0], h = m[2][1], i = m[2][2]
        let det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
        return [[(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
                [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
                [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det]]
    }
}

extension PatchAugmenter {
    /// The path with robustness transforms: each patch gets its own generator, drawn in order
    /// from `generator`, so the result does not depend on how patches are shared among threads.
    /// Order: scale and blur (optics), stain and colour (the lab), JPEG (storage), then the
    /// dihedral view and normalisation.
    func fillRobust(_ out: UnsafeMutablePointer<Float>, from pixels: UnsafePointer<UInt8>, count: Int,
                    generator: inout SplitMix64) {
        let seeds = (0..<count).map { _ in generator.next() }
        nonisolated(unsafe) let out = out
        nonisolated(unsafe) let pixels = pixels
        let me = self
        Threading.dynamicFor(count) { _, b in
            var g = SplitMix64(seed: seeds[b])
            let plane = PatchDataset.patchSize * PatchDataset.patchSize * 3
            me.augmentOne(out + b * plane, from: pixels + b * plane, generator: &g)
        }
    }

    func augmentOne(_ dst: UnsafeMutablePointer<Float>, from src: UnsafePointer<UInt8>, generator g: inout SplitMix64) {
        let n = PatchDataset.patchSize, count = n * n * 3
        let a = augmentation
        var image = (0..<count).map { Float(src[$0]) / 255 }
        if a.scale > 0 {
            let zoom = Float(1 + Double.random(in: -a.scale...a.scale, using: &g))
            image = Self.zoomed(image, n: n, by: zoom)
        }
        if a.blurProbability > 0, Double.random(in: 0..<1, using: &g) < a.blurProbability {
            let sigma = Float(Double.random(in: 0.3...max(0.3, a.blurSigma), using: &g))
            image = Self.blurred(image, n: n, sigma: sigma)
        }
        if a.hed > 0 {
            let alpha = (0..<3).map { _ in Float(1 + Double.random(in: -a.hed...a.hed, using: &g)) }
            let beta = (0..<3).map { _ in Float(Double.random(in: -a.hed...a.hed, using: &g)) }
            Self.perturbStains(&image, alpha: alpha, beta: beta)
        }
        if a.colorJitter {
            let gain = 1 + Float(Double.random(in: -contrast...contrast, using: &g))
            let offset = Float(Double.random(in: -brightness...brightness, using: &g))
            let sat = 1 + Float(Double.random(in: -saturation...saturation, using: &g))
            let angle = Float(Double.random(in: -hue...hue, using: &g)) * 2 * Float.pi
            Self.jitter(&image, gain: gain, offset: offset, saturation: sat, cos: cosf(angle), sin: sinf(angle))
        }
        if a.jpegProbability > 0, Double.random(in: 0..<1, using: &g) < a.jpegProbability {
            let quality = Int.random(in: a.jpegQuality[0]...max(a.jpegQuality[0], a.jpegQuality[1]), using: &g)
            let bytes = image.map { UInt8(min(255, max(0, ($0 * 255).rounded()))) }
            // A round trip through the codec cannot fail on a valid 96×96 RGB raster; if it
            // ever did, the patch simply goes on without JPEG artefacts.
            if let decoded = try? JPEG.roundTrip(Raster(width: n, height: n, channels: 3, pixels: bytes), quality: quality) {
                image = decoded.pixels.map { Float($0) / 255 }
            }
        }
        let k = a.dihedral ? Int(g.next() % 8) : 0
        let mean = normalization.mean.map(Float.init), inv = normalization.std.map { Float(1 / $0) }
        for y in 0..<n {
            for x in 0..<n {
                let (sx, sy) = Self.dihedralSource(k, x: x, y: y, n: n)
                let s = (sy * n + sx) * 3, d = (y * n + x) * 3
                for c in 0..<3 { dst[d + c] = (image[s + c] - mean[c]) * inv[c] }
            }
        }
    }

    /// Bilinear zoom about the centre by `zoom` (> 1 enlarges); coordinates beyond the edge
    /// take the edge pixel.
    static func zoomed(_ image: [Float], n: Int, by zoom: Float) -> [Float] {
        var out = [Float](repeating: 0, count: image.count)
        let centre = Float(n - 1) / 2
        for y in 0..<n {
            let sy = min(Float(n - 1), max(0, (Float(y) - centre) / zoom + centre))
            let y0 = Int(sy), y1 = min(n - 1, y0 + 1), fy = sy - Float(y0)
            for x in 0..<n {
                let sx = min(Float(n - 1), max(0, (Float(x) - centre) / zoom + centre))
                let x0 = Int(sx), x1 = min(n - 1, x0 + 1), fx = sx - Float(x0)
                for c in 0..<3 {
                    let top = image[(y0 * n + x0) * 3 + c] * (1 - fx) + image[(y0 * n + x1) * 3 + c] * fx
                    let bottom = image[(y1 * n + x0) * 3 + c] * (1 - fx) + image[(y1 * n + x1) * 3 + c] * fx
                    out[(y * n + x) * 3 + c] = top * (1 - fy) + bottom * fy
                }
            }
        }
        return out
    }

    /// Separable Gaussian blur with radius ⌈3σ⌉; the edge repeats.
    static func blurred(_ image: [Float], n: Int, sigma: Float) -> [Float] {
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var weights = (-radius...radius).map { expf(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        var pass = [Float](repeating: 0, count: image.count), out = pass
        for y in 0..<n {
            for x in 0..<n {
                for c in 0..<3 {
                    var v: Float = 0
                    for (i, w) in weights.enumerated() { v += w * image[(y * n + min(n - 1, max(0, x + i - radius))) * 3 + c] }
                    pass[(y * n + x) * 3 + c] = v
                }
            }
        }
        for y in 0..<n {
            for x in 0..<n {
                for c in 0..<3 {
                    var v: Float = 0
                    for (i, w) in weights.enumerated() { v += w * pass[(min(n - 1, max(0, y + i - radius)) * n + x) * 3 + c] }
                    out[(y * n + x) * 3 + c] = v
                }
            }
        }
        return out
    }

    /// Stain augmentation: RGB → optical density → stain amounts (HED), s' = α·s + β per stain,
    /// and back. Intensities are floored at 1/255 so that optical density stays finite.
    static func perturbStains(_ image: inout [Float], alpha: [Float], beta: [Float]) {
        let h = StainMatrix.hedFromRGB.map { $0.map(Float.init) }, m = StainMatrix.rgbFromHED.map { $0.map(Float.init) }
        let floor: Float = 1.0 / 255
        for p in stride(from: 0, to: image.count, by: 3) {
            let d0 = -logf(max(floor, image[p])), d1 = -logf(max(floor, image[p + 1])), d2 = -logf(max(floor, image[p + 2]))
            let s0 = (d0 * h[0][0] + d1 * h[1][0] + d2 * h[2][0]) * alpha[0] + beta[0]
            let s1 = (d0 * h[0][1] + d1 * h[1][1] + d2 * h[2][1]) * alpha[1] + beta[1]
            let s2 = (d0 * h[0][2] + d1 * h[1][2] + d2 * h[2][2]) * alpha[2] + beta[2]
            for c in 0..<3 {
                let density = s0 * m[0][c] + s1 * m[1][c] + s2 * m[2][c]
                image[p + c] = min(1, max(0, expf(-density)))
            }
        }
    }

    /// `jitterPixel` over every pixel of an image.
    static func jitter(_ image: inout [Float], gain: Float, offset: Float, saturation sat: Float, cos cosA: Float, sin sinA: Float) {
        for p in stride(from: 0, to: image.count, by: 3) {
            (image[p], image[p + 1], image[p + 2]) = jitterPixel(image[p], image[p + 1], image[p + 2], gain: gain, offset: offset,
                                                                 saturation: sat, cos: cosA, sin: sinA)
        }
    }
}
