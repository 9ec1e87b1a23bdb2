import Neural

extension RoundingBound {
    /// The exact output of a Double network's inference pass over its first `layerCount` layers,
    /// and per element a bound on how far a float32 pass of the same network (its weights exactly
    /// representable in Float, the input `x` rounded to Float once) may lie from it, whichever
    /// kernel set runs and whether batch norm is folded into the convolution before it or not.
    ///
    /// The bound propagates layer by layer (to first order in u): a linear layer with weights W
    /// maps the incoming error E to |W|·E and adds its own rounding, γ(k)·M, where M is the layer
    /// on absolute values of its (possibly perturbed) input, |x| + E; ReLU and max pooling pass
    /// the error on unchanged (they are 1-Lipschitz per element). With `winograd`, a 3×3
    /// convolution that Winograd can run gets the larger of the direct and Winograd bounds.
    ///
    /// Covers the inference layers the engine compiles: Conv2D, BatchNorm, ReLU, MaxPool2D,
    /// GlobalAveragePool, Flatten, Dense and Dropout.
    public static func inference(_ net: Network<Double>, input x: Tensor<Double>, layerCount: Int? = nil,
                                 winograd: Bool) -> (exact: [Double], bound: [Double]) {
        let end = layerCount ?? net.layers.count
        let n = x.shape[0]
        var value = x
        var error = Tensor<Double>(shape: x.shape, data: x.data.map { abs($0) * unitRoundoff })
        var i = 0
        while i < end {
            let layer = net.layers[i]
            let shape = net.shapes[i]
            let reach = Tensor<Double>(shape: value.shape, data: zip(value.data, error.data).map { abs($0) + $1 })
            switch layer {
            case let conv as Conv2D<Double>:
                let g = conv.geometry(inputShape: shape)
                let cout = g.outputChannels
                var scale = [Double](repeating: 1, count: cout), shift = [Double](repeating: 0, count: cout)
                var shiftMagnitude = shift
                if i + 1 < end, let bn = net.layers[i + 1] as? BatchNorm<Double> {
                    (scale, shift) = bn.inferenceAffine()
                    shiftMagnitude = affineShiftMagnitude(bn, scale: scale)
                    i += 1
                }
                let w = conv.kernel.value
                let scaled = Tensor(shape: w.shape, data: w.data.enumerated().map { $1 * scale[$0 % cout] })
                let absolute = Tensor(shape: w.shape, data: scaled.data.map(abs))
                let bias = (0..<cout).map { (conv.bias?.value.data[$0] ?? 0) * scale[$0] + shift[$0] }
                let absBias = Tensor(shape: [cout], data: (0..<cout).map {
                    abs((conv.bias?.value.data[$0] ?? 0) * scale[$0]) + shiftMagnitude[$0]
                })
                value = convolve(value, like: conv, kernel: scaled, bias: Tensor(shape: [cout], data: bias))
                let propagated = convolve(error, like: conv, kernel: absolute, bias: nil)
                let magnitude = convolve(reach, like: conv, kernel: absolute, bias: absBias)
                // 2 per term of the sum and 1 for the bias; 5 for batch norm's scale (its square
                // root, division and ε's rounding) and for folding or applying it.
                let k = 2 * g.kernelHeight * g.kernelWidth * g.inputChannels + 6
                var own = bounds(magnitude.data, operations: k)
                if winograd && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1
                        && KernelSet.winogradFits(h: g.inputHeight, w: g.inputWidth, inputChannels: g.inputChannels) {
                    let wm = winogradMagnitude(x: reach, kernel: absolute, bias: absBias)
                    let wb = bounds(wm, operations: winogradOperations(inputChannels: g.inputChannels) + 5)
                    for j in own.indices { own[j] = max(own[j], wb[j]) }
                }
                error = Tensor(shape: value.shape, data: zip(propagated.data, own).map { $0 + $1 })
            case let bn as BatchNorm<Double>:
                let (scale, shift) = bn.inferenceAffine()
                let shiftMagnitude = affineShiftMagnitude(bn, scale: scale)
                let c = scale.count, g = gamma(8)  // the scale (4), shift (2), product and sum
                value = Tensor(shape: value.shape, data: value.data.enumerated().map { $1 * scale[$0 % c] + shift[$0 % c] })
                error = Tensor(shape: value.shape, data: error.data.enumerated().map { j, e in
                    abs(scale[j % c]) * e + g * (abs(scale[j % c]) * reach.data[j] + shiftMagnitude[j % c])
                })
            case is ReLU<Double>:
                value = Tensor(shape: value.shape, data: value.data.map { max(0, $0) })
            case let pool as MaxPool2D<Double>:
                value = pool.forward(value, mode: .inference, retain: false)
                error = pool.forward(error, mode: .inference, retain: false)  // the largest error in each window
            case is GlobalAveragePool<Double>:
                let hw = shape[0] * shape[1], c = shape[2]
                func average(_ t: Tensor<Double>) -> [Double] {
                    (0..<(n * c)).map { j in (0..<hw).reduce(0) { $0 + t.data[((j / c) * hw + $1) * c + j % c] } / Double(hw) }
                }
                let magnitude = average(reach), g = gamma(hw + 1)
                value = Tensor(shape: [n, c], data: average(value))
                error = Tensor(shape: [n, c], data: zip(average(error), magnitude).map { $0 + g * $1 })
            case is Flatten<Double>, is Dropout<Double>:
                let flat = [n, value.count / n]
                value = Tensor(shape: layer is Flatten<Double> ? flat : value.shape, data: value.data)
                error = Tensor(shape: value.shape, data: error.data)
            case let dense as Dense<Double>:
                let inputs = dense.inputFeatures, outputs = dense.outputFeatures
                let w = dense.kernel.value.data, b = dense.bias?.value.data
                var out = [Double](repeating: 0, count: n * outputs), e = out
                let g = gamma(2 * inputs + 1)
                for s in 0..<n {
                    for o in 0..<outputs {
                        var sum = b?[o] ?? 0, propagated = 0.0, magnitude = abs(b?[o] ?? 0)
                        for k in 0..<inputs {
                            let weight = w[k * outputs + o]
                            sum += value.data[s * inputs + k] * weight
                            propagated += error.data[s * inputs + k] * abs(weight)
                            magnitude += reach.data[s * inputs + k] * abs(weight)
                        }
                        out[s * outputs + o] = sum
                        e[s * outputs + o] = propagated + g * magnitude
                    }
                }
                value = Tensor(shape: [n, outputs], data: out)
                error = Tensor(shape: [n, outputs], data: e)
            default:
                preconditionFailure("RoundingBound.inference: no bound for layer \(layer.name)")
            }
            i += 1
        }
        // The Double computation's own rounding.
        return (value.data, zip(error.data, value.data).map { $0 + 1e-12 * abs($1) })
    }

    /// |β| + |μ·scale| per channel: the magnitude of batch norm's shift β − μ·scale as computed.
    static func affineShiftMagnitude(_ bn: BatchNorm<Double>, scale: [Double]) -> [Double] {
        (0..<bn.channels).map { abs(bn.beta.value.data[$0]) + abs(bn.movingMean.value.data[$0] * scale[$0]) }
    }

    /// `conv`'s convolution with other weights, in Double (im2col + BLAS, so that the bounds of
    /// large layers stay quick in debug builds).
    static func convolve(_ x: Tensor<Double>, like conv: Conv2D<Double>, kernel: Tensor<Double>, bias: Tensor<Double>?) -> Tensor<Double> {
        let c = Conv2D<Double>(name: conv.name, inputChannels: conv.inputChannels, outputChannels: conv.outputChannels,
                               kernelSize: conv.kernelSize, stride: conv.stride, padding: conv.explicitPadding,
                               useBias: bias != nil)
        c.kernel.value = kernel
        if let bias { c.bias?.value = bias }
        return c.forward(x, mode: .inference, retain: false)
    }
}
