import Foundation
import Neural

/// Mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018): each training
/// patch is blended with another patch of the same batch, and its target with that patch's
/// target, by the same weight λ ~ Beta(α, α), drawn per patch. A regulariser that asks the
/// network to behave linearly between examples; small α (0.1–0.4) keeps most blends close to
/// one of the two patches.
///
/// The blend is of normalised inputs. Normalisation is affine, so this equals blending the
/// augmented pixels and normalising after. All draws come from the training run's generator,
/// after the batch's augmentation, so a run without mixup takes exactly the path it took
/// before mixup existed.
public struct Mixup: Sendable, Equatable {
    public var alpha: Double

    public init(alpha: Double) {
        precondition(alpha > 0, "mixup needs α > 0")
        self.alpha = alpha
    }

    /// Blends `count` inputs of `size` floats each in place: input i becomes
    /// λᵢ·xᵢ + (1 − λᵢ)·x_π(i) for a random permutation π of the batch, and its target
    /// λᵢ·yᵢ + (1 − λᵢ)·y_π(i). Returns the blended targets.
    public func mix(_ input: UnsafeMutablePointer<Float>, targets: [Float], size: Int,
                    generator: inout SplitMix64) -> [Float] {
        let count = targets.count
        guard count > 1 else { return targets }
        let partner = DatasetSplit.shuffled(Array(0..<count), using: &generator)
        let lambdas = (0..<count).map { _ in Float(Self.beta(alpha, alpha, using: &generator)) }
        let original = Array(UnsafeBufferPointer(start: input, count: count * size))
        var mixed = targets
        original.withUnsafeBufferPointer { x in
            for i in 0..<count {
                let l = lambdas[i], j = partner[i]
                let dst = input + i * size
                for k in 0..<size { dst[k] = l * x[i * size + k] + (1 - l) * x[j * size + k] }
                mixed[i] = l * targets[i] + (1 - l) * targets[j]
            }
        }
        return mixed
    }

    /// A uniform draw in the open interval (0, 1).
    static func uniform(using g: inout SplitMix64) -> Double {
        (Double(g.next() >> 11) + 0.5) / 9_007_199_254_740_992  // 2^53
    }

    /// A standard normal draw (Box–Muller, one of the pair).
    static func normal(using g: inout SplitMix64) -> Double {
        let u1 = uniform(using: &g), u2 = uniform(using: &g)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A Gamma(shape, 1) draw: Marsaglia and Tsang's squeeze method (ACM TOMS 2000) for
    /// shape ≥ 1; for shape < 1, Gamma(shape + 1)·U^(1/shape).
    static func gamma(_ shape: Double, using g: inout SplitMix64) -> Double {
        if shape < 1 {
            return gamma(shape + 1, using: &g) * pow(uniform(using: &g), 1 / shape)
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = normal(using: &g)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniform(using: &g), x2 = x * x
            if u < 1 - 0.0331 * x2 * x2 { return d * v }
            if log(u) < 0.5 * x2 + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// A Beta(a, b) draw, as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
    static func beta(_ a: Double, _ b: Double, using g: inout SplitMix64) -> Double {
        let x = gamma(a, using: &g), y = gamma(b, using: &g)
        let sum = x + y
        // Both can underflow to 0 when a and b are tiny; the limit is then a fair coin.
        return sum > 0 ? x / sum : (uniform(using: &g) < 0.5 ? 0 : 1)
    }
}
