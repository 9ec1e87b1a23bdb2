import CKernels

/// Max pooling over `size`×`size` windows at `stride`, no padding (floor mode):
/// `[N, H, W, C]` → `[N, (H − size) / stride + 1, (W − size) / stride + 1, C]`.
public final class MaxPool2D<Scalar: NeuralScalar>: Layer {
    public let name: String
    public let size: Int
    public let stride: Int
    public var isFrozen = false
    private var argmax: [Int32] = []
    private var which: [UInt8] = []
    private var inputShape: [Int] = []

    public init(name: String, size: Int = 2, stride: Int = 2) {
        self.name = name
        self.size = size
        self.stride = stride
    }

    public var parameters: [Parameter<Scalar>] { [] }

    public func outputShape(inputShape s: [Int]) -> [Int] {
        precondition(s.count == 3 && s[0] >= size && s[1] >= size, "\(name): input \(s) is smaller than the \(size)×\(size) window")
        return [(s[0] - size) / stride + 1, (s[1] - size) / stride + 1, s[2]]
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        let h = x.shape[1], w = x.shape[2], c = x.shape[3]
        let out = outputShape(inputShape: [h, w, c])
        let oh = out[0], ow = out[1], n = x.batch
        let keep = mode == .training && retain
        inputShape = x.shape
        if isFloat(Scalar.self) && size == 2 && stride == 2 {
            var y = Tensor<Scalar>(uninitializedShape: [n, oh, ow, c])
            which = keep ? [UInt8](repeating: 0, count: y.count) : []
            argmax = []
            withFloats(x.data) { xp in
                withMutableFloats(&y.data) { yp in
                    which.withUnsafeMutableBufferPointer { wp in
                        nonisolated(unsafe) let yp = yp, wp = keep ? wp.baseAddress : nil  // an empty array may still have a base address
                        let inImage = h * w * c, outImage = oh * ow * c
                        Threading.parallelFor(n) { _, images in
                            KernelSet.active.maxPool2x2(xp + images.lowerBound * inImage, n: images.count, h: h, w: w, c: c,
                                                        y: yp + images.lowerBound * outImage,
                                                        which: wp.map { $0 + images.lowerBound * outImage })
                        }
                    }
                }
            }
            return y
        }
        which = []
        var y = Tensor<Scalar>(shape: [n, oh, ow, c])
        var indices = keep ? [Int32](repeating: 0, count: y.count) : []
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for b in 0..<n {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let o = ((b * oh + oy) * ow + ox) * c
                            for ch in 0..<c {
                                // The first maximum in row-major window order wins ties, as in PyTorch.
                                var bestIndex = ((b * h + oy * stride) * w + ox * stride) * c + ch
                                var best = xp[bestIndex]
                                for ky in 0..<size {
                                    for kx in 0..<size {
                                        let i = ((b * h + oy * stride + ky) * w + ox * stride + kx) * c + ch
                                        if xp[i] > best { best = xp[i]; bestIndex = i }
                                    }
                                }
                                yp[o + ch] = best
                                if keep { indices[o + ch] = Int32(bestIndex - b * h * w * c) }
                            }
                        }
                    }
                }
            }
        }
        argmax = indices
        return y
    }

    public func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>? {
        guard needInputGradient else { return nil }
        if !which.isEmpty {
            precondition(which.count == dy.count, "\(name): output gradient \(dy.shape) does not match the forward pass")
            var dx = Tensor<Scalar>(uninitializedShape: inputShape)
            let n = inputShape[0], h = inputShape[1], w = inputShape[2], c = inputShape[3]
            withFloats(dy.data) { dp in
                withMutableFloats(&dx.data) { xp in
                    which.withUnsafeBufferPointer { wp in
                        nonisolated(unsafe) let xp = xp
                        let inImage = h * w * c, outImage = dy.itemCount
                        Threading.parallelFor(n) { _, images in
                            KernelSet.active.maxPool2x2Backward(dy: dp + images.lowerBound * outImage,
                                                                which: wp.baseAddress! + images.lowerBound * outImage,
                                                                n: images.count, h: h, w: w, c: c, dx: xp + images.lowerBound * inImage)
                        }
                    }
                }
            }
            return dx
        }
        precondition(argmax.count == dy.count, "\(name): backward without a retained training forward pass")
        var dx = Tensor<Scalar>(shape: inputShape)
        let perImageIn = inputShape.dropFirst().reduce(1, *), perImageOut = dy.itemCount
        for i in 0..<dy.count {
            let b = i / perImageOut
            dx.data[b * perImageIn + Int(argmax[i])] += dy.data[i]
        }
        return dx
    }
}

/// Global average pooling: `[N, H, W, C]` → `[N, C]`.
public final class GlobalAveragePool<Scalar: NeuralScalar>: Layer {
    public let name: String
    public var isFrozen = false
    private var inputShape: [Int] = []

    public init(name: String) { self.name = name }
    public var parameters: [Parameter<Scalar>] { [] }
    public func outputShape(inputShape s: [Int]) -> [Int] { [s[2]] }
    public func flops(inputShape: [Int]) -> Int { inputShape.reduce(1, *) }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        let n = x.batch, hw = x.shape[1] * x.shape[2], c = x.shape[3]
        var y = Tensor<Scalar>(shape: [n, c])
        x.data.withUnsafeBufferPointer { xp in
            for b in 0..<n {
                for p in 0..<hw { for ch in 0..<c { y.data[b * c + ch] += xp[(b * hw + p) * c + ch] } }
                for ch in 0..<c { y.data[b * c + ch] /= Scalar(hw) }
            }
        }
        inputShape = x.shape
        return y
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>? {
        guard needInputGradient else { return nil }
        let n = inputShape[0], hw = inputShape[1] * inputShape[2], c = inputShape[3]
        // Every element is written: dx[b, p, ch] = dy[b, ch] / hw.
        var dx = Tensor<Scalar>(uninitializedShape: inputShape)
        dy.data.withUnsafeBufferPointer { g in
            dx.data.withUnsafeMutableBufferPointer { d in
                let scale = 1 / Scalar(hw)
                for b in 0..<n {
                    let row = g.baseAddress! + b * c
                    for p in 0..<hw {
                        let out = d.baseAddress! + (b * hw + p) * c
                        for ch in 0..<c { out[ch] = row[ch] * scale }
                    }
                }
            }
        }
        return dx
    }
}
