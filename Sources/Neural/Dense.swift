/// Fully connected layer: `[N, in]` → `[N, out]`, `y = x · kernel + bias`, with `kernel`
/// `[in, out]` (Keras layout) and `bias` `[out]`.
public final class Dense<Scalar: NeuralScalar>: Layer {
    public let name: String
    public let inputFeatures: Int
    public let outputFeatures: Int
    public let kernel: Parameter<Scalar>
    public let bias: Parameter<Scalar>?
    public var isFrozen = false
    private var cachedInput: Tensor<Scalar>?

    public init(name: String, inputFeatures: Int, outputFeatures: Int, useBias: Bool = true) {
        self.name = name
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        kernel = Parameter(name: "\(name).kernel", value: Tensor(shape: [inputFeatures, outputFeatures]))
        bias = useBias ? Parameter(name: "\(name).bias", value: Tensor(shape: [outputFeatures])) : nil
    }

    public var parameters: [Parameter<Scalar>] { [kernel] + (bias.map { [$0] } ?? []) }

    public func outputShape(inputShape: [Int]) -> [Int] {
        precondition(inputShape == [inputFeatures], "\(name): input shape \(inputShape) is not [\(inputFeatures)]")
        return [outputFeatures]
    }

    public func flops(inputShape: [Int]) -> Int { 2 * inputFeatures * outputFeatures }

    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        precondition(x.shape.count == 2 && x.shape[1] == inputFeatures,
                     "\(name): input \(x.shape) is not [N, \(inputFeatures)]")
        cachedInput = mode == .training && retain ? x : nil
        let n = x.batch
        var y = Tensor<Scalar>(shape: [n, outputFeatures])
        x.data.withUnsafeBufferPointer { xp in
            kernel.value.data.withUnsafeBufferPointer { wp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    // y[N, out] = x[N, in] · kernel[in, out]
                    Scalar.gemm(transA: false, transB: false, m: n, n: outputFeatures, k: inputFeatures, alpha: 1,
                                a: xp.baseAddress!, lda: inputFeatures, b: wp.baseAddress!, ldb: outputFeatures,
                                beta: 0, c: yp.baseAddress!, ldc: outputFeatures)
                }
            }
        }
        if let bias { addBias(&y.data, bias.value.data) }
        return y
    }

    public func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>? {
        guard let x = cachedInput else { preconditionFailure("\(name): backward without a retained training forward pass") }
        let n = x.batch
        precondition(dy.shape == [n, outputFeatures], "\(name): output gradient \(dy.shape) is not [\(n), \(outputFeatures)]")
        if !isFrozen {
            x.data.withUnsafeBufferPointer { xp in
                dy.data.withUnsafeBufferPointer { dp in
                    kernel.gradient.data.withUnsafeMutableBufferPointer { gp in
                        // dKernel[in, out] += x[N, in]ᵀ · dy[N, out]
                        Scalar.gemm(transA: true, transB: false, m: inputFeatures, n: outputFeatures, k: n, alpha: 1,
                                    a: xp.baseAddress!, lda: inputFeatures, b: dp.baseAddress!, ldb: outputFeatures,
                                    beta: 1, c: gp.baseAddress!, ldc: outputFeatures)
                    }
                }
            }
            if let bias {
                for r in 0..<n { for j in 0..<outputFeatures { bias.gradient.data[j] += dy.data[r * outputFeatures + j] } }
            }
        }
        guard needInputGradient else { return nil }
        var dx = Tensor<Scalar>(shape: x.shape)
        dy.data.withUnsafeBufferPointer { dp in
            kernel.value.data.withUnsafeBufferPointer { wp in
                dx.data.withUnsafeMutableBufferPointer { xp in
                    // dx[N, in] = dy[N, out] · kernel[in, out]ᵀ
                    Scalar.gemm(transA: false, transB: true, m: n, n: inputFeatures, k: outputFeatures, alpha: 1,
                                a: dp.baseAddress!, lda: outputFeatures, b: wp.baseAddress!, ldb: outputFeatures,
                                beta: 0, c: xp.baseAddress!, ldc: inputFeatures)
                }
            }
        }
        return dx
    }
}
