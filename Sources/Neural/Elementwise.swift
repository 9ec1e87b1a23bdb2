import CKernels

/// max(0, x).
public final class ReLU<Scalar: NeuralScalar>: Layer {
    public let name: String
    public var isFrozen = false
    private var cachedOutput: Tensor<Scalar>?

    public init(name: String) { self.name = name }
    public var parameters: [Parameter<Scalar>] { [] }
    public func outputShape(inputShape: [Int]) -> [Int] { inputShape }

    /// Takes `y`, already max(0, ·) (the previous layer fused this ReLU in), as this layer's
    /// output, so that a later `backward` works as after its own forward pass.
    func adoptOutput(_ y: Tensor<Scalar>, mode: Mode, retain: Bool) {
        cachedOutput = mode == .training && retain ? y : nil
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        var y: Tensor<Scalar>
        if isFloat(Scalar.self) {
            y = Tensor(uninitializedShape: x.shape)
            withFloats(x.data) { xp in
                withMutableFloats(&y.data) { yp in
                    nonisolated(unsafe) let yp = yp
                    parallelChunks(x.count) { offset, count in KernelSet.active.relu(xp + offset, count: count, y: yp + offset) }
                }
            }
        } else {
            y = x
            y.data.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where p[i] < 0 { p[i] = 0 }
            }
        }
        cachedOutput = mode == .training && retain ? y : nil
        return y
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>? {
        guard needInputGradient else { return nil }
        guard let y = cachedOutput else { preconditionFailure("\(name): backward without a retained training forward pass") }
        if isFloat(Scalar.self) {
            var dx = Tensor<Scalar>(uninitializedShape: dy.shape)
            withFloats(dy.data) { dp in
                withFloats(y.data) { yp in
                    withMutableFloats(&dx.data) { xp in
                        nonisolated(unsafe) let xp = xp
                        parallelChunks(dy.count) { offset, count in KernelSet.active.reluBackward(dy: dp + offset, y: yp + offset, count: count, dx: xp + offset) }
                    }
                }
            }
            return dx
        }
        var dx = dy
        y.data.withUnsafeBufferPointer { yp in
            dx.data.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where yp[i] <= 0 { p[i] = 0 }
            }
        }
        return dx
    }
}

/// Inverted dropout: in training, zeroes each element with probability `rate` and scales the
/// rest by 1 / (1 − rate); identity at inference. Its mask comes from its own seeded generator.
public final class Dropout<Scalar: NeuralScalar>: Layer {
    public let name: String
    public let rate: Double
    public var isFrozen = false
    private var generator: SplitMix64
    private var mask: [Scalar] = []

    public init(name: String, rate: Double, seed: UInt64) {
        precondition(rate >= 0 && rate < 1, "\(name): dropout rate \(rate) must be in [0, 1)")
        self.name = name
        self.rate = rate
        self.generator = SplitMix64(seed: seed)
    }

    public var parameters: [Parameter<Scalar>] { [] }
    public func outputShape(inputShape: [Int]) -> [Int] { inputShape }

    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        guard mode == .training, rate > 0 else { mask = []; return x }
        let keep = Scalar(1 / (1 - rate))
        mask = (0..<x.count).map { _ in Double.random(in: 0..<1, using: &generator) < rate ? 0 : keep }
        var y = x
        for i in 0..<y.count { y.data[i] *= mask[i] }
        return y
    }

    public func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>? {
        guard needInputGradient else { return nil }
        guard !mask.isEmpty else { return dy }
        var dx = dy
        for i in 0..<dx.count { dx.data[i] *= mask[i] }
        return dx
    }
}

/// `[N, H, W, C]` → `[N, H·W·C]`, in NHWC order (as Keras flattens).
public final class Flatten<Scalar: NeuralScalar>: Layer {
    public let name: String
    public var isFrozen = false
    private var inputShape: [Int] = []

    public init(name: String) { self.name = name }
    public var parameters: [Parameter<Scalar>] { [] }
    public func outputShape(inputShape: [Int]) -> [Int] { [inputShape.reduce(1, *)] }

    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        inputShape = x.shape
        return x.reshaped([x.batch, x.itemCount])
    }

    public func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>? {
        needInputGradient ? dy.reshaped(inputShape) : nil
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
