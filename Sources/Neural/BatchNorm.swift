import CKernels

/// Batch normalisation over the last (channel) axis of `[N, H, W, C]` or `[N, C]`.
///
/// Training normalises with the batch's mean and biased variance, and updates the running
/// statistics as `running = momentum · running + (1 − momentum) · batch`, using the unbiased
/// variance for `moving_variance` (PyTorch's convention; Keras's momentum 0.99 corresponds to
/// PyTorch's 0.01). Inference, and a frozen layer, use the running statistics.
public final class BatchNorm<Scalar: NeuralScalar>: Layer {
    public let name: String
    public let channels: Int
    public let epsilon: Scalar
    public let momentum: Scalar
    public let gamma, beta, movingMean, movingVariance: Parameter<Scalar>
    public var isFrozen = false

    private var cachedNormalized: [Scalar] = []
    private var cachedInvStd: [Scalar] = []
    private var cachedInferenceScale: [Scalar]?
    /// The output of a training pass with a ReLU fused in (`forwardFusingReLU`): the backward
    /// pass masks the gradient with it, as the ReLU's own backward pass would.
    private var cachedFusedOutput: [Scalar]?

    public init(name: String, channels: Int, epsilon: Scalar = 1e-3, momentum: Scalar = 0.99) {
        self.name = name
        self.channels = channels
        self.epsilon = epsilon
        self.momentum = momentum
        gamma = Parameter(name: "\(name).gamma", value: Tensor(shape: [channels], repeating: 1))
        beta = Parameter(name: "\(name).beta", value: Tensor(shape: [channels]))
        movingMean = Parameter(name: "\(name).moving_mean", value: Tensor(shape: [channels]), isBuffer: true)
        movingVariance = Parameter(name: "\(name).moving_variance", value: Tensor(shape: [channels], repeating: 1),
                                   isBuffer: true)
    }

    public var parameters: [Parameter<Scalar>] { [gamma, beta, movingMean, movingVariance] }

    public func outputShape(inputShape: [Int]) -> [Int] {
        precondition(inputShape.last == channels, "\(name): input shape \(inputShape) does not end in \(channels) channels")
        return inputShape
    }

    public func flops(inputShape: [Int]) -> Int { 2 * inputShape.reduce(1, *) }

    /// Per-channel `scale` and `shift` such that inference computes `x · scale + shift`.
    public func inferenceAffine() -> (scale: [Scalar], shift: [Scalar]) {
        var scale = [Scalar](repeating: 0, count: channels), shift = scale
        for c in 0..<channels {
            scale[c] = gamma.value.data[c] / Scalar.sqrt(movingVariance.value.data[c] + epsilon)
            shift[c] = beta.value.data[c] - movingMean.value.data[c] * scale[c]
        }
        return (scale, shift)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        let c = channels
        precondition(x.shape.last == c, "\(name): input \(x.shape) does not end in \(c) channels")
        let rows = x.count / c
        var y = x
        if mode == .inference || isFrozen {
            cachedFusedOutput = nil
            let (scale, shift) = inferenceAffine()
            cachedInferenceScale = mode == .training && retain ? scale : nil
            y.data.withUnsafeMutableBufferPointer { yp in
                for r in 0..<rows {
                    for j in 0..<c { yp[r * c + j] = yp[r * c + j] * scale[j] + shift[j] }
                }
            }
            return y
        }
        cachedInferenceScale = nil
        cachedFusedOutput = nil
        if isFloat(Scalar.self) {
            return floatTrainingForward(x, rows: rows, retain: retain, relu: false)
        }
        // Batch statistics, accumulated in the scalar type (two passes for accuracy).
        var mean = [Scalar](repeating: 0, count: c), variance = mean
        x.data.withUnsafeBufferPointer { xp in
            for r in 0..<rows { for j in 0..<c { mean[j] += xp[r * c + j] } }
            for j in 0..<c { mean[j] /= Scalar(rows) }
            for r in 0..<rows {
                for j in 0..<c {
                    let d = xp[r * c + j] - mean[j]
                    variance[j] += d * d
                }
            }
        }
        var invStd = [Scalar](repeating: 0, count: c)
        for j in 0..<c {
            let biased = variance[j] / Scalar(rows)
            invStd[j] = 1 / Scalar.sqrt(biased + epsilon)
            let unbiased = rows > 1 ? variance[j] / Scalar(rows - 1) : biased
            movingMean.value.data[j] = momentum * movingMean.value.data[j] + (1 - momentum) * mean[j]
            movingVariance.value.data[j] = momentum * movingVariance.value.data[j] + (1 - momentum) * unbiased
        }
        var normalized = retain ? [Scalar](repeating: 0, count: x.count) : []
        let g = gamma.value.data, b = beta.value.data
        y.data.withUnsafeMutableBufferPointer { yp in
            normalized.withUnsafeMutableBufferPointer { np in
                for r in 0..<rows {
                    for j in 0..<c {
                        let xhat = (yp[r * c + j] - mean[j]) * invStd[j]
                        if retain { np[r * c + j] = xhat }
                        yp[r * c + j] = xhat * g[j] + b[j]
                    }
                }
            }
        }
        cachedNormalized = normalized
        cachedInvStd = invStd
        return y
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>? {
        let c = channels, rows = dy.count / c
        if let scale = cachedInferenceScale {
            // Frozen: y = x · scale + shift, a per-channel affine map with fixed statistics.
            guard needInputGradient else { return nil }
            var dx = dy
            dx.data.withUnsafeMutableBufferPointer { p in
                for r in 0..<rows { for j in 0..<c { p[r * c + j] *= scale[j] } }
            }
            return dx
        }
        precondition(cachedNormalized.count == dy.count,
                     "\(name): backward without a retained training forward pass (dy \(dy.shape))")
        if isFloat(Scalar.self) {
            return floatBackward(dy, rows: rows, needInputGradient: needInputGradient)
        }
        var sumDy = [Scalar](repeating: 0, count: c), sumDyXhat = sumDy
        cachedNormalized.withUnsafeBufferPointer { np in
            dy.data.withUnsafeBufferPointer { dp in
                for r in 0..<rows {
                    for j in 0..<c {
                        sumDy[j] += dp[r * c + j]
                        sumDyXhat[j] += dp[r * c + j] * np[r * c + j]
                    }
                }
            }
        }
        if !isFrozen {
            for j in 0..<c {
                gamma.gradient.data[j] += sumDyXhat[j]
                beta.gradient.data[j] += sumDy[j]
            }
        }
        guard needInputGradient else { return nil }
        // dx = γ·invStd/M · (M·dy − Σdy − x̂·Σ(dy·x̂))
        var dx = dy
        let m = Scalar(rows), g = gamma.value.data, invStd = cachedInvStd
        cachedNormalized.withUnsafeBufferPointer { np in
            dx.data.withUnsafeMutableBufferPointer { p in
                for r in 0..<rows {
                    for j in 0..<c {
                        let i = r * c + j
                        p[i] = g[j] * invStd[j] / m * (m * p[i] - sumDy[j] - np[i] * sumDyXhat[j])
                    }
                }
            }
        }
        return dx
    }

    // MARK: Float fast path (CKernels, split over rows across threads)

    /// Per-channel sums over rows, each thread over its own rows, combined in a fixed order.
    private func channelSums(_ x: UnsafePointer<Float>, rows: Int, mean: UnsafePointer<Float>?) -> [Float] {
        let c = channels
        let parts = max(1, min(Threading.threadCount, rows / 1024))
        var partial = [Float](repeating: 0, count: parts * c)
        partial.withUnsafeMutableBufferPointer { pp in
            nonisolated(unsafe) let base = pp.baseAddress!
            Threading.parallelFor(parts) { _, range in
                for part in range {
                    let begin = rows * part / parts, end = rows * (part + 1) / parts
                    let out = base + part * c
                    if let mean {
                        var scratch = [Float](repeating: 0, count: c)
                        KernelSet.active.channelSums(x + begin * c, rows: end - begin, c: c, mean: mean, sum: &scratch, squares: out)
                    } else {
                        KernelSet.active.channelSums(x + begin * c, rows: end - begin, c: c, mean: nil, sum: out, squares: nil)
                    }
                }
            }
        }
        var total = [Float](repeating: 0, count: c)
        for part in 0..<parts { for j in 0..<c { total[j] += partial[part * c + j] } }
        return total
    }

    /// A training pass of batch norm followed by ReLU, in one sweep over the output: what
    /// `forward` and then a ReLU layer would give. Nil (nothing done) unless this is the Float
    /// path of an unfrozen layer; the network then runs the two layers separately.
    func forwardFusingReLU(_ x: Tensor<Scalar>, retain: Bool) -> Tensor<Scalar>? {
        guard isFloat(Scalar.self), !isFrozen, x.shape.last == channels else { return nil }
        cachedInferenceScale = nil
        let y = floatTrainingForward(x, rows: x.count / channels, retain: retain, relu: true)
        cachedFusedOutput = retain ? y.data : nil
        return y
    }

    private func floatTrainingForward(_ x: Tensor<Scalar>, rows: Int, retain: Bool, relu: Bool) -> Tensor<Scalar> {
        let c = channels
        var y = Tensor<Scalar>(uninitializedShape: x.shape)
        var normalized = retain ? [Scalar](unsafeUninitializedCapacity: x.count) { _, n in n = x.count } : []
        var invStd = [Scalar](repeating: 0, count: c)
        withFloats(x.data) { xp in
            var mean = channelSums(xp, rows: rows, mean: nil)
            for j in 0..<c { mean[j] /= Float(rows) }
            let squares = channelSums(xp, rows: rows, mean: mean)
            var inv = [Float](repeating: 0, count: c)
            for j in 0..<c {
                let biased = squares[j] / Float(rows)
                inv[j] = 1 / (biased + Float(epsilon)).squareRoot()
                invStd[j] = Scalar(inv[j])
                let unbiased = rows > 1 ? squares[j] / Float(rows - 1) : biased
                movingMean.value.data[j] = momentum * movingMean.value.data[j] + (1 - momentum) * Scalar(mean[j])
                movingVariance.value.data[j] = momentum * movingVariance.value.data[j] + (1 - momentum) * Scalar(unbiased)
            }
            withFloats(gamma.value.data) { gp in
                withFloats(beta.value.data) { bp in
                    withMutableFloats(&y.data) { yp in
                        withOptionalMutableFloats(&normalized, enabled: retain) { hp in
                            nonisolated(unsafe) let yp = yp, hp = hp
                            parallelChunks(rows) { begin, count in
                                KernelSet.active.batchNormNormalize(xp + begin * c, rows: count, c: c, mean: mean, invstd: inv, gamma: gp, beta: bp,
                                                                    relu: relu, xhat: hp.map { $0 + begin * c }, y: yp + begin * c)
                            }
                        }
                    }
                }
            }
        }
        cachedNormalized = normalized
        cachedInvStd = invStd
        return y
    }

    private func floatBackward(_ dy: Tensor<Scalar>, rows: Int, needInputGradient: Bool) -> Tensor<Scalar>? {
        let c = channels
        var sumG = [Float](repeating: 0, count: c), sumGX = sumG
        // With a fused ReLU, the gradient is masked by the fused output (y > 0) on the fly.
        let fused = cachedFusedOutput ?? []
        let relu = cachedFusedOutput != nil
        withFloats(dy.data) { dp in
          withFloats(fused) { mp in
            nonisolated(unsafe) let mask: UnsafePointer<Float>? = relu ? mp : nil
            withFloats(cachedNormalized) { hp in
                let parts = max(1, min(Threading.threadCount, rows / 1024))
                var partial = [Float](repeating: 0, count: 2 * parts * c)
                partial.withUnsafeMutableBufferPointer { pp in
                    nonisolated(unsafe) let base = pp.baseAddress!
                    Threading.parallelFor(parts) { _, range in
                        for part in range {
                            let begin = rows * part / parts, end = rows * (part + 1) / parts
                            KernelSet.active.batchNormBackwardSums(dy: dp + begin * c, y: mask.map { $0 + begin * c }, xhat: hp + begin * c,
                                                                   rows: end - begin, c: c, relu: relu, sumG: base + 2 * part * c,
                                                                   sumGX: base + (2 * part + 1) * c)
                        }
                    }
                }
                for part in 0..<parts {
                    for j in 0..<c { sumG[j] += partial[2 * part * c + j]; sumGX[j] += partial[(2 * part + 1) * c + j] }
                }
            }
          }
        }
        if !isFrozen {
            for j in 0..<c {
                gamma.gradient.data[j] += Scalar(sumGX[j])
                beta.gradient.data[j] += Scalar(sumG[j])
            }
        }
        guard needInputGradient else { return nil }
        var k1 = [Float](repeating: 0, count: c), meanG = k1, meanGX = k1
        for j in 0..<c {
            k1[j] = Float(gamma.value.data[j]) * Float(cachedInvStd[j])
            meanG[j] = sumG[j] / Float(rows)
            meanGX[j] = sumGX[j] / Float(rows)
        }
        var dx = Tensor<Scalar>(uninitializedShape: dy.shape)
        withFloats(dy.data) { dp in
          withFloats(fused) { mp in
            nonisolated(unsafe) let mask: UnsafePointer<Float>? = relu ? mp : nil
            withFloats(cachedNormalized) { hp in
                withMutableFloats(&dx.data) { xp in
                    nonisolated(unsafe) let xp = xp
                    parallelChunks(rows) { begin, count in
                        KernelSet.active.batchNormBackwardApply(dy: dp + begin * c, y: mask.map { $0 + begin * c }, xhat: hp + begin * c,
                                                                rows: count, c: c, relu: relu, k1: k1, meanG: meanG, meanGX: meanGX,
                                                                dx: xp + begin * c)
                    }
                }
            }
          }
        }
        return dx
    }
}
