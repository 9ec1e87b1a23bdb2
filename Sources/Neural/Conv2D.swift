/// Explicit zero padding of a convolution's input, in input pixels.
public struct Padding2D: Sendable, Equatable, Codable {
    public var top: Int, bottom: Int, left: Int, right: Int
    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }
    public static let zero = Padding2D(top: 0, bottom: 0, left: 0, right: 0)

    /// Keras/TensorFlow "same": the output has ceil(input / stride) pixels, and any odd
    /// padding goes at the bottom/right.
    public static func same(height: Int, width: Int, kernel: Int, stride: Int) -> Padding2D {
        func split(_ n: Int) -> (Int, Int) {
            let out = (n + stride - 1) / stride
            let total = max((out - 1) * stride + kernel - n, 0)
            return (total / 2, total - total / 2)
        }
        let (t, b) = split(height), (l, r) = split(width)
        return Padding2D(top: t, bottom: b, left: l, right: r)
    }
}

/// The geometry of a 2-D convolution over one NHWC image.
public struct ConvGeometry: Sendable, Equatable {
    public var inputHeight: Int, inputWidth: Int, inputChannels: Int
    public var kernelHeight: Int, kernelWidth: Int, outputChannels: Int
    public var stride: Int
    public var padding: Padding2D

    public init(inputHeight: Int, inputWidth: Int, inputChannels: Int, kernelHeight: Int, kernelWidth: Int,
                outputChannels: Int, stride: Int, padding: Padding2D) {
        self.inputHeight = inputHeight; self.inputWidth = inputWidth; self.inputChannels = inputChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth; self.outputChannels = outputChannels
        self.stride = stride; self.padding = padding
        precondition(stride >= 1, "Conv2D: stride \(stride) must be at least 1")
        precondition(outputHeight >= 1 && outputWidth >= 1,
                     "Conv2D: input \(inputHeight)×\(inputWidth) with kernel \(kernelHeight)×\(kernelWidth), "
                     + "stride \(stride), padding \(padding) gives an empty output")
    }

    public var outputHeight: Int { (inputHeight + padding.top + padding.bottom - kernelHeight) / stride + 1 }
    public var outputWidth: Int { (inputWidth + padding.left + padding.right - kernelWidth) / stride + 1 }
    /// Rows of the im2col matrix per image: output pixels.
    public var patchCount: Int { outputHeight * outputWidth }
    /// Columns of the im2col matrix: one kernel window, ordered (ky, kx, c).
    public var patchLength: Int { kernelHeight * kernelWidth * inputChannels }
    public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == .zero
    }
}

/// 2-D convolution with optional bias.
///
/// - Input `[N, H, W, Cin]`, output `[N, OH, OW, Cout]` (NHWC).
/// - `kernel` is `[KH, KW, Cin, Cout]` (HWIO, as Keras stores it), `bias` is `[Cout]`.
///
/// Strategy: im2col + GEMM. Rows of several images are gathered into one column buffer of
/// at most `columnBudget` elements, so M is large even for small late-layer images:
/// `out[M, Cout] = cols[M, K] · kernel[K, Cout]` with K = KH·KW·Cin.
public final class Conv2D<Scalar: NeuralScalar>: Layer {
    public let name: String
    public let kernelSize: (height: Int, width: Int)
    public let inputChannels: Int
    public let outputChannels: Int
    public let stride: Int
    /// nil means "same", resolved against the input size.
    public let explicitPadding: Padding2D?
    public let kernel: Parameter<Scalar>
    public let bias: Parameter<Scalar>?
    public var isFrozen = false
    /// Use the im2col + GEMM path even where the fast 3×3 kernels apply (tests compare the two
    /// on the same layer).
    public var forcePortable = false
    /// The kernel set of the fast path; nil for `KernelSet.active` (tests run each set).
    public var kernels: KernelSet?
    private var fastKernels: KernelSet { kernels ?? .active }

    /// Column-buffer budget in elements (16 Mi elements = 64 MiB of Float).
    static var columnBudget: Int { 1 << 24 }

    private var cachedInput: Tensor<Scalar>?
    /// The fast path's zero-padded copy of the retained input, reused by the weight gradient.
    private var cachedPadded: [Float]?

    public init(name: String, inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int), stride: Int = 1,
                padding: Padding2D? = nil, useBias: Bool = true) {
        self.name = name
        self.kernelSize = (kernelSize.0, kernelSize.1)
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.stride = stride
        self.explicitPadding = padding
        kernel = Parameter(name: "\(name).kernel",
                           value: Tensor(shape: [kernelSize.0, kernelSize.1, inputChannels, outputChannels]))
        bias = useBias ? Parameter(name: "\(name).bias", value: Tensor(shape: [outputChannels])) : nil
    }

    public var parameters: [Parameter<Scalar>] { [kernel] + (bias.map { [$0] } ?? []) }

    public func geometry(inputShape: [Int]) -> ConvGeometry {
        precondition(inputShape.count == 3 && inputShape[2] == inputChannels,
                     "\(name): input shape \(inputShape) does not match [H, W, \(inputChannels)]")
        let padding = explicitPadding
            ?? .same(height: inputShape[0], width: inputShape[1], kernel: kernelSize.height, stride: stride)
        return ConvGeometry(inputHeight: inputShape[0], inputWidth: inputShape[1], inputChannels: inputChannels,
                            kernelHeight: kernelSize.height, kernelWidth: kernelSize.width,
                            outputChannels: outputChannels, stride: stride, padding: padding)
    }

    public func outputShape(inputShape: [Int]) -> [Int] {
        let g = geometry(inputShape: inputShape)
        return [g.outputHeight, g.outputWidth, outputChannels]
    }

    public func flops(inputShape: [Int]) -> Int {
        let g = geometry(inputShape: inputShape)
        return 2 * g.patchCount * g.patchLength * outputChannels
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        let g = geometry(inputShape: Array(x.shape.dropFirst()))
        let n = x.batch
        cachedInput = mode == .training && retain ? x : nil
        cachedPadded = nil
        if FastConv3x3.applies(g, scalar: Scalar.self) && !forcePortable {
            var y = Tensor<Scalar>(uninitializedShape: [n, g.outputHeight, g.outputWidth, outputChannels])
            let keep = mode == .training && retain && !isFrozen
            withFloats(x.data) { xp in
                withFloats(kernel.value.data) { wp in
                    withFloatsOptional(bias?.value.data) { bp in
                        withMutableFloats(&y.data) { yp in
                            let p = FastConv3x3.forward(fastKernels, x: xp, n: n, g: g, kernel: wp, bias: bp, relu: false, out: yp)
                            if keep { cachedPadded = p }
                        }
                    }
                }
            }
            return y
        }
        var y = Tensor<Scalar>(shape: [n, g.outputHeight, g.outputWidth, outputChannels])
        let rowsPerImage = g.patchCount, k = g.patchLength, cout = outputChannels
        let imagesPerChunk = max(1, Self.columnBudget / max(1, rowsPerImage * k))
        var cols = g.isPointwise ? [] : [Scalar](repeating: 0, count: min(n, imagesPerChunk) * rowsPerImage * k)
        x.data.withUnsafeBufferPointer { xp in
            kernel.value.data.withUnsafeBufferPointer { wp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    cols.withUnsafeMutableBufferPointer { cp in
                        var first = 0
                        while first < n {
                            let images = min(imagesPerChunk, n - first)
                            let m = images * rowsPerImage
                            let a = columns(g, images: xp.baseAddress! + first * x.itemCount, count: images,
                                            imageSize: x.itemCount, buffer: cp.baseAddress)
                            // out[M, Cout] = cols[M, K] · kernel[K, Cout]
                            Scalar.gemm(transA: false, transB: false, m: m, n: cout, k: k, alpha: 1,
                                        a: a, lda: k, b: wp.baseAddress!, ldb: cout,
                                        beta: 0, c: yp.baseAddress! + first * rowsPerImage * cout, ldc: cout)
                            first += images
                        }
                    }
                }
            }
        }
        if let bias {
            addBias(&y.data, bias.value.data)
        }
        return y
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>? {
        guard let x = cachedInput else {
            preconditionFailure("\(name): backward without a retained training forward pass")
        }
        let g = geometry(inputShape: Array(x.shape.dropFirst()))
        let n = x.batch, rowsPerImage = g.patchCount, k = g.patchLength, cout = outputChannels
        precondition(dy.shape == [n, g.outputHeight, g.outputWidth, cout],
                     "\(name): output gradient \(dy.shape) does not match [\(n), \(g.outputHeight), \(g.outputWidth), \(cout)]")
        let computeWeights = !isFrozen
        let fast = FastConv3x3.applies(g, scalar: Scalar.self) && !forcePortable
        let fastInput = fast && FastConv3x3.appliesToInputGradient(g)
        // The fast input gradient overwrites every element; the portable one accumulates.
        var dx: Tensor<Scalar>? = !needInputGradient ? nil
            : fastInput ? Tensor(uninitializedShape: x.shape) : Tensor(shape: x.shape)

        if computeWeights, let bias {
            bias.gradient.data.withUnsafeMutableBufferPointer { db in
                dy.data.withUnsafeBufferPointer { d in
                    for r in 0..<(d.count / cout) {
                        for c in 0..<cout { db[c] += d[r * cout + c] }
                    }
                }
            }
        }
        if fast && computeWeights {
            withFloats(x.data) { xp in
                withFloats(dy.data) { dyp in
                    withMutableFloats(&kernel.gradient.data) { dwp in
                        FastConv3x3.weightGradient(fastKernels, x: xp, paddedX: cachedPadded, dy: dyp, n: n, g: g, dKernel: dwp)
                    }
                }
            }
        }
        if fastInput && needInputGradient {
            withFloats(dy.data) { dyp in
                withFloats(kernel.value.data) { wp in
                    withMutableFloats(&dx!.data) { dxp in
                        FastConv3x3.inputGradient(fastKernels, dy: dyp, n: n, g: g, kernel: wp, dx: dxp)
                    }
                }
            }
        }
        if fast && (fastInput || !needInputGradient) { return dx }
        // The portable path: im2col + GEMM (for whatever the fast path did not already do).
        let portableWeights = computeWeights && !fast
        let portableInput = needInputGradient && !fastInput
        let imagesPerChunk = max(1, Self.columnBudget / max(1, rowsPerImage * k))
        var cols = g.isPointwise ? [] : [Scalar](repeating: 0, count: min(n, imagesPerChunk) * rowsPerImage * k)
        x.data.withUnsafeBufferPointer { xp in
            dy.data.withUnsafeBufferPointer { dyp in
                kernel.value.data.withUnsafeBufferPointer { wp in
                    kernel.gradient.data.withUnsafeMutableBufferPointer { dwp in
                        cols.withUnsafeMutableBufferPointer { cp in
                            var first = 0
                            while first < n {
                                let images = min(imagesPerChunk, n - first)
                                let m = images * rowsPerImage
                                let dyChunk = dyp.baseAddress! + first * rowsPerImage * cout
                                if portableWeights {
                                    let a = columns(g, images: xp.baseAddress! + first * x.itemCount, count: images,
                                                    imageSize: x.itemCount, buffer: cp.baseAddress)
                                    // dKernel[K, Cout] += cols[M, K]ᵀ · dy[M, Cout]
                                    Scalar.gemm(transA: true, transB: false, m: k, n: cout, k: m, alpha: 1,
                                                a: a, lda: k, b: dyChunk, ldb: cout,
                                                beta: 1, c: dwp.baseAddress!, ldc: cout)
                                }
                                if portableInput {
                                    dx!.data.withUnsafeMutableBufferPointer { dxp in
                                        let dxChunk = dxp.baseAddress! + first * x.itemCount
                                        if g.isPointwise {
                                            // dx[M, Cin] = dy[M, Cout] · kernel[Cin, Cout]ᵀ
                                            Scalar.gemm(transA: false, transB: true, m: m, n: k, k: cout, alpha: 1,
                                                        a: dyChunk, lda: cout, b: wp.baseAddress!, ldb: cout,
                                                        beta: 0, c: dxChunk, ldc: k)
                                        } else {
                                            // dcols[M, K] = dy[M, Cout] · kernel[K, Cout]ᵀ, then scatter-add.
                                            Scalar.gemm(transA: false, transB: true, m: m, n: k, k: cout, alpha: 1,
                                                        a: dyChunk, lda: cout, b: wp.baseAddress!, ldb: cout,
                                                        beta: 0, c: cp.baseAddress!, ldc: k)
                                            for i in 0..<images {
                                                col2im(g, columns: cp.baseAddress! + i * rowsPerImage * k,
                                                       image: dxChunk + i * x.itemCount)
                                            }
                                        }
                                    }
                                }
                                first += images
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}


/// The im2col matrix `[count · OH · OW, K]` of `count` consecutive images: the images
/// themselves for a pointwise convolution, else gathered into `buffer`.
@inline(__always)
func columns<T: NeuralScalar>(_ g: ConvGeometry, images: UnsafePointer<T>, count: Int, imageSize: Int,
                              buffer: UnsafeMutablePointer<T>?) -> UnsafePointer<T> {
    if g.isPointwise { return images }
    let rows = g.patchCount * g.patchLength
    for i in 0..<count { im2col(g, image: images + i * imageSize, columns: buffer! + i * rows) }
    return UnsafePointer(buffer!)
}

/// Adds `bias[c]` to every row of a `[rows, C]` buffer.
@inline(__always)
func addBias<T: NeuralScalar>(_ y: inout [T], _ bias: [T]) {
    let c = bias.count
    y.withUnsafeMutableBufferPointer { yp in
        bias.withUnsafeBufferPointer { bp in
            for r in 0..<(yp.count / c) {
                for j in 0..<c { yp[r * c + j] += bp[j] }
            }
        }
    }
}

/// Gathers one NHWC image's kernel windows into rows: `columns[p, (ky·KW + kx)·Cin + c]`
/// for output pixel p; taps in the padding are 0.
@inline(__always)
func im2col<T: NeuralScalar>(_ g: ConvGeometry, image: UnsafePointer<T>, columns: UnsafeMutablePointer<T>) {
    let cin = g.inputChannels, k = g.patchLength
    for oy in 0..<g.outputHeight {
        for ox in 0..<g.outputWidth {
            var dst = columns + (oy * g.outputWidth + ox) * k
            for ky in 0..<g.kernelHeight {
                let iy = oy * g.stride - g.padding.top + ky
                for kx in 0..<g.kernelWidth {
                    let ix = ox * g.stride - g.padding.left + kx
                    if iy >= 0 && iy < g.inputHeight && ix >= 0 && ix < g.inputWidth {
                        dst.update(from: image + (iy * g.inputWidth + ix) * cin, count: cin)
                    } else {
                        dst.update(repeating: 0, count: cin)
                    }
                    dst += cin
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds each row's taps back into the (zeroed) image gradient.
@inline(__always)
func col2im<T: NeuralScalar>(_ g: ConvGeometry, columns: UnsafePointer<T>, image: UnsafeMutablePointer<T>) {
    let cin = g.inputChannels, k = g.patchLength
    for oy in 0..<g.outputHeight {
        for ox in 0..<g.outputWidth {
            var src = columns + (oy * g.outputWidth + ox) * k
            for ky in 0..<g.kernelHeight {
                let iy = oy * g.stride - g.padding.top + ky
                for kx in 0..<g.kernelWidth {
                    let ix = ox * g.stride - g.padding.left + kx
                    if iy >= 0 && iy < g.inputHeight && ix >= 0 && ix < g.inputWidth {
                        let dst = image + (iy * g.inputWidth + ix) * cin
                        for c in 0..<cin { dst[c] += src[c] }
                    }
                    src += cin
                }
            }
        }
    }
}
