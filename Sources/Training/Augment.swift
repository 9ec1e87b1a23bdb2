import Neural

/// Turns 96×96 RGB patches into normalised network input, with optional augmentation: one
/// of the 8 flips and rotations of the square (the dihedral group D4: a tumour looks the same
/// turned or mirrored) and mild colour jitter (brightness, contrast, saturation, hue), as
/// stain and scanner vary between labs.
///
/// `Augmentation` adds the robustness transforms (stain in HED space, JPEG re-encoding, scale
/// jitter and blur); with none of them on, `fill` takes exactly the path the first bundled
/// model was trained with, so its training command still reproduces it.
public struct PatchAugmenter: Sendable {
    public var normalization: InputNormalization
    public var augment: Bool
    /// Maximum relative change of brightness, contrast and saturation, and of hue (in turns).
    public var brightness = 0.1, contrast = 0.1, saturation = 0.1, hue = 0.02
    public var augmentation: Augmentation

    public init(normalization: InputNormalization, augment: Bool, augmentation: Augmentation = .standard) {
        self.normalization = normalization
        self.augment = augment
        self.augmentation = augmentation
    }

    /// Colour jitter of one pixel with channels in [0, 1]: the hue turned about the grey axis (a
    /// rotation in the opponent-colour plane), saturation scaled, then contrast and brightness,
    /// clamped to [0, 1].
    @inline(__always)
    static func jitterPixel(_ r0: Float, _ g0: Float, _ b0: Float, gain: Float, offset: Float, saturation sat: Float,
                            cos cosA: Float, sin sinA: Float) -> (Float, Float, Float) {
        let grey = (r0 + g0 + b0) / 3
        let c1 = r0 - grey, c2 = g0 - grey, c3 = b0 - grey
        let u = (c1 - c2) / 1.4142135, v = (c1 + c2 - 2 * c3) / 2.4494897
        let u2 = u * cosA - v * sinA, v2 = u * sinA + v * cosA
        var r = grey + sat * (u2 / 1.4142135 + v2 / 2.4494897)
        var g = grey + sat * (-u2 / 1.4142135 + v2 / 2.4494897)
        var b = grey + sat * (-2 * v2 / 2.4494897)
        r = (r - 0.5) * gain + 0.5 + offset
        g = (g - 0.5) * gain + 0.5 + offset
        b = (b - 0.5) * gain + 0.5 + offset
        return (min(1, max(0, r)), min(1, max(0, g)), min(1, max(0, b)))
    }

    /// Maps output pixel (x, y) to the source pixel for dihedral transform `k` (0...7) of an
    /// n×n square: k & 3 quarter turns, then a mirror when k ≥ 4.
    @inline(__always)
    public static func dihedralSource(_ k: Int, x: Int, y: Int, n: Int) -> (Int, Int) {
        var (sx, sy) = k >= 4 ? (n - 1 - x, y) : (x, y)
        for _ in 0..<(k & 3) { (sx, sy) = (sy, n - 1 - sx) }
        return (sx, sy)
    }

    /// Normalises `count` patches of `side` × `side` pixels without augmentation, in one
    /// dihedral `view` (0 = as they are), split over the engine's threads: the deterministic
    /// path of inference.
    public func normalize(_ out: UnsafeMutablePointer<Float>, from pixels: UnsafePointer<UInt8>, count: Int, view: Int = 0,
                          side: Int = PatchDataset.patchSize) {
        let n = side, plane = n * n * 3
        // x = (p / 255 − mean) / std = p · scale + shift, per channel.
        let scale = normalization.std.map { Float(1 / (255 * $0)) }
        let shift = zip(normalization.mean, normalization.std).map { Float(-$0 / $1) }
        // Every byte value's result, per channel: a table lookup gives exactly the same floats
        // as the multiply-add, without per-element arithmetic or bounds checks.
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 { for v in 0..<256 { table[c * 256 + v] = Float(v) * scale[c] + shift[c] } }
        nonisolated(unsafe) let out = out
        nonisolated(unsafe) let pixels = pixels
        table.withUnsafeBufferPointer { tableBuffer in
            nonisolated(unsafe) let t = tableBuffer.baseAddress!
            Threading.parallelFor(count) { _, images in
                for b in images {
                    let src = pixels + b * plane, dst = out + b * plane
                    if view == 0 {
                        for i in stride(from: 0, to: plane, by: 3) {
                            dst[i] = t[Int(src[i])]
                            dst[i + 1] = t[256 + Int(src[i + 1])]
                            dst[i + 2] = t[512 + Int(src[i + 2])]
                        }
                    } else {
                        for y in 0..<n {
                            for x in 0..<n {
                                let (sx, sy) = Self.dihedralSource(view, x: x, y: y, n: n)
                                let s = src + (sy * n + sx) * 3, d = dst + (y * n + x) * 3
                                for c in 0..<3 { d[c] = t[c * 256 + Int(s[c])] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Fills `out` (`[count, 96, 96, 3]` floats, NHWC) from `pixels` (`[count][96][96][3]`
    /// bytes). Augmentation draws from `generator` (see `normalize` for the deterministic path).
    public func fill(_ out: UnsafeMutablePointer<Float>, from pixels: UnsafePointer<UInt8>, count: Int,
                     generator: inout SplitMix64) {
        if augment && augmentation.usesRobustTransforms {
            fillRobust(out, from: pixels, count: count, generator: &generator)
            return
        }
        let n = PatchDataset.patchSize, plane = n * n * 3
        let mean = normalization.mean.map(Float.init), inv = normalization.std.map { Float(1 / $0) }
        for b in 0..<count {
            let src = pixels + b * plane, dst = out + b * plane
            let k = augment && augmentation.dihedral ? Int(generator.next() % 8) : 0
            var gain: Float = 1, offset: Float = 0, sat: Float = 1, hueShift: Float = 0
            let jitter = augment && augmentation.colorJitter
            if jitter {
                gain = 1 + Float(Double.random(in: -contrast...contrast, using: &generator))
                offset = Float(Double.random(in: -brightness...brightness, using: &generator))
                sat = 1 + Float(Double.random(in: -saturation...saturation, using: &generator))
                hueShift = Float(Double.random(in: -hue...hue, using: &generator))
            }
            // Hue rotation about the grey axis (a rotation in the opponent-colour plane).
            let angle = hueShift * 2 * Float.pi
            let cosA = cosf(angle), sinA = sinf(angle)
            for y in 0..<n {
                for x in 0..<n {
                    let (sx, sy) = Self.dihedralSource(k, x: x, y: y, n: n)
                    let s = src + (sy * n + sx) * 3
                    var r = Float(s[0]) / 255, g = Float(s[1]) / 255, bl = Float(s[2]) / 255
                    if jitter {
                        (r, g, bl) = Self.jitterPixel(r, g, bl, gain: gain, offset: offset, saturation: sat, cos: cosA, sin: sinA)
                    }
                    let d = dst + (y * n + x) * 3
                    d[0] = (r - mean[0]) * inv[0]
                    d[1] = (g - mean[1]) * inv[1]
                    d[2] = (bl - mean[2]) * inv[2]
                }
            }
        }
    }
}

import Foundation
