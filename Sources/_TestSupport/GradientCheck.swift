import Neural

/// Deterministic test tensors.
public enum TestTensors {
    /// Values uniform in [-scale, scale), from a seeded generator; none within `gap` of 0
    /// (so ReLU's kink is not straddled by a finite difference).
    public static func uniform<T: NeuralScalar>(_ shape: [Int], seed: UInt64, scale: Double = 1, gap: Double = 0) -> Tensor<T> {
        var g = SplitMix64(seed: seed)
        let values: [T] = (0..<shape.reduce(1, *)).map { _ in
            var v = Double.random(in: -scale..<scale, using: &g)
            if abs(v) < gap { v = v < 0 ? v - gap : v + gap }
            return T(v)
        }
        return Tensor(shape: shape, data: values)
    }
}

/// The result of comparing analytic and central-difference gradients.
public struct GradientCheckResult: CustomStringConvertible {
    /// The largest `|analytic − numeric| / max(1, |analytic|, |numeric|)`.
    public var worstError: Double
    public var worstAt: String
    public var checked: Int
    public var description: String { "worst relative error \(worstError) at \(worstAt) over \(checked) entries" }
}

/// Finite-difference gradient checks in Double, in the style of ggml's and micrograd's:
/// the scalar is `f = Σ r ⊙ g(x)` with fixed random weights `r`, so every output element
/// contributes, and `df/dx` comes from `backward(r)`.
public enum GradientCheck {
    /// Checks `d f / d input` and `d f / d parameter` of a layer at up to `samples` entries each.
    public static func layer(_ layer: some Layer<Double>, input: Tensor<Double>, seed: UInt64 = 7,
                             epsilon: Double = 1e-6, samples: Int = 60) -> GradientCheckResult {
        let outShape = layer.forward(input, mode: .training, retain: true).shape
        let r: Tensor<Double> = TestTensors.uniform(outShape, seed: seed)
        func f(_ x: Tensor<Double>) -> Double {
            let y = layer.forward(x, mode: .training, retain: false)
            return zip(y.data, r.data).reduce(0) { $0 + $1.0 * $1.1 }
        }
        for p in layer.parameters { p.zeroGradient() }
        _ = layer.forward(input, mode: .training, retain: true)
        let dx = layer.backward(r, needInputGradient: true)!
        var result = GradientCheckResult(worstError: 0, worstAt: "-", checked: 0)
        func compare(_ analytic: Double, _ numeric: Double, _ label: String) {
            let err = abs(analytic - numeric) / max(1, abs(analytic), abs(numeric))
            result.checked += 1
            if err > result.worstError { result.worstError = err; result.worstAt = "\(label): analytic \(analytic), numeric \(numeric)" }
        }
        for i in sampleIndices(input.count, samples, seed: seed) {
            compare(dx.data[i], centralDifference(f, at: input, i, epsilon: epsilon), "input[\(i)]")
        }
        for p in layer.isFrozen ? [] : layer.trainableParameters {
            let analytic = p.gradient
            for i in sampleIndices(p.value.count, samples, seed: seed &+ 1) {
                compare(analytic.data[i], centralDifference({ f(input) }, in: p, i, epsilon: epsilon), "\(p.name)[\(i)]")
            }
        }
        return result
    }

    /// The worst relative error `|analytic − numeric| / max(1, |analytic|, |numeric|)` of a whole
    /// network's loss gradient (mean binary cross-entropy on `labels`, training mode), with
    /// respect to every `inputStride`-th input element and every `parameterStride`-th element of
    /// each trainable parameter.
    public static func network(_ net: Network<Double>, input x: Tensor<Double>, labels: [Double], inputStride: Int,
                               parameterStride: Int, epsilon: Double = 1e-6) -> Double {
        func loss(_ input: Tensor<Double>) -> Double {
            BinaryCrossEntropy.lossAndGradient(logits: net.forward(input, mode: .training), labels: labels).loss
        }
        net.zeroGradients()
        let (_, dLogits) = BinaryCrossEntropy.lossAndGradient(logits: net.forward(x, mode: .training), labels: labels)
        let dx = net.backward(dLogits, inputGradient: true)!
        var worst = 0.0
        func compare(_ analytic: Double, _ numeric: Double) {
            worst = max(worst, abs(numeric - analytic) / max(1, abs(numeric), abs(analytic)))
        }
        for i in stride(from: 0, to: x.count, by: inputStride) {
            compare(dx.data[i], centralDifference(loss, at: x, i, epsilon: epsilon))
        }
        for p in net.trainableParameters {
            let analytic = p.gradient
            for i in stride(from: 0, to: p.value.count, by: parameterStride) {
                compare(analytic.data[i], centralDifference({ loss(x) }, in: p, i, epsilon: epsilon))
            }
        }
        return worst
    }

    /// `(f(x + ε eᵢ) − f(x − ε eᵢ)) / 2ε`.
    private static func centralDifference(_ f: (Tensor<Double>) -> Double, at x: Tensor<Double>, _ i: Int,
                                          epsilon: Double) -> Double {
        var plus = x, minus = x
        plus.data[i] += epsilon
        minus.data[i] -= epsilon
        return (f(plus) - f(minus)) / (2 * epsilon)
    }

    /// The same in element `i` of a parameter, which is left as it was.
    private static func centralDifference(_ f: () -> Double, in p: Parameter<Double>, _ i: Int, epsilon: Double) -> Double {
        let saved = p.value.data[i]
        p.value.data[i] = saved + epsilon
        let fp = f()
        p.value.data[i] = saved - epsilon
        let fm = f()
        p.value.data[i] = saved
        return (fp - fm) / (2 * epsilon)
    }

    static func sampleIndices(_ count: Int, _ samples: Int, seed: UInt64) -> [Int] {
        if count <= samples { return Array(0..<count) }
        var g = SplitMix64(seed: seed)
        return (0..<samples).map { _ in Int.random(in: 0..<count, using: &g) }
    }
}
