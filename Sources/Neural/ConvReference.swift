/// Plain-loop convolution: the oracle the fast paths are tested against.
public enum ReferenceConvolution {
    /// `x` is `[N, H, W, Cin]`, `kernel` `[KH, KW, Cin, Cout]`, result `[N, OH, OW, Cout]`.
    public static func forward<T: NeuralScalar>(_ x: Tensor<T>, kernel: Tensor<T>, bias: Tensor<T>?,
                                                geometry g: ConvGeometry) -> Tensor<T> {
        let n = x.batch
        var y = Tensor<T>(shape: [n, g.outputHeight, g.outputWidth, g.outputChannels])
        for b in 0..<n {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for co in 0..<g.outputChannels {
                        var sum: T = bias?.data[co] ?? 0
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                let iy = oy * g.stride - g.padding.top + ky
                                let ix = ox * g.stride - g.padding.left + kx
                                guard iy >= 0, iy < g.inputHeight, ix >= 0, ix < g.inputWidth else { continue }
                                for ci in 0..<g.inputChannels {
                                    let xv = x.data[((b * g.inputHeight + iy) * g.inputWidth + ix) * g.inputChannels + ci]
                                    let wv = kernel.data[((ky * g.kernelWidth + kx) * g.inputChannels + ci) * g.outputChannels + co]
                                    sum += xv * wv
                                }
                            }
                        }
                        y.data[((b * g.outputHeight + oy) * g.outputWidth + ox) * g.outputChannels + co] = sum
                    }
                }
            }
        }
        return y
    }
}
