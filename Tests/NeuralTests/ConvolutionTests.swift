import Neural
import Testing
import _TestSupport

/// The im2col + GEMM convolution against plain loops, on odd, strided and padded shapes.
@Suite struct ConvolutionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var h: Int, w: Int, cin: Int, cout: Int, k: Int, stride: Int, padding: Padding2D?, bias: Bool
        var testDescription: String { "\(h)×\(w)×\(cin)→\(cout) k\(k) s\(stride) pad \(padding.map { "\($0)" } ?? "same") bias \(bias)" }
    }

    static let cases: [Case] = [
        Case(h: 7, w: 5, cin: 3, cout: 4, k: 3, stride: 1, padding: nil, bias: true),
        Case(h: 9, w: 11, cin: 2, cout: 5, k: 3, stride: 2, padding: nil, bias: false),
        Case(h: 8, w: 8, cin: 3, cout: 3, k: 3, stride: 2, padding: Padding2D(top: 1, bottom: 1, left: 1, right: 1), bias: true),
        Case(h: 6, w: 7, cin: 4, cout: 2, k: 5, stride: 1, padding: Padding2D(top: 2, bottom: 0, left: 1, right: 3), bias: true),
        Case(h: 5, w: 5, cin: 6, cout: 7, k: 1, stride: 1, padding: .zero, bias: true),
        Case(h: 10, w: 6, cin: 1, cout: 3, k: 4, stride: 3, padding: .zero, bias: false),
        Case(h: 3, w: 3, cin: 5, cout: 2, k: 3, stride: 1, padding: .zero, bias: true),
        Case(h: 13, w: 13, cin: 3, cout: 8, k: 7, stride: 2, padding: nil, bias: true),
    ]

    @Test(arguments: cases)
    func fastMatchesReference(c: Case) {
        for scalar in ["Float", "Double"] {
            if scalar == "Float" { check(Float.self, c, tolerance: 1e-5) } else { check(Double.self, c, tolerance: 1e-12) }
        }
    }

    func check<T: NeuralScalar>(_: T.Type, _ c: Case, tolerance: Double) {
        let conv = Conv2D<T>(name: "conv", inputChannels: c.cin, outputChannels: c.cout, kernelSize: (c.k, c.k),
                             stride: c.stride, padding: c.padding, useBias: c.bias)
        conv.kernel.value = TestTensors.uniform(conv.kernel.value.shape, seed: 1)
        conv.bias?.value = TestTensors.uniform([c.cout], seed: 2)
        let x: Tensor<T> = TestTensors.uniform([3, c.h, c.w, c.cin], seed: 3)
        let y = conv.forward(x, mode: .inference, retain: false)
        let g = conv.geometry(inputShape: [c.h, c.w, c.cin])
        let expected = ReferenceConvolution.forward(x, kernel: conv.kernel.value, bias: conv.bias?.value, geometry: g)
        #expect(y.shape == expected.shape)
        let worst = zip(y.data, expected.data).map { Double(abs($0 - $1)) }.max() ?? 0
        #expect(worst <= tolerance, "\(T.self) \(c.testDescription): max error \(worst)")
    }

    @Test func samePaddingMatchesKeras() {
        // Keras "same" with stride 2 on an even size pads only at the bottom/right.
        #expect(Padding2D.same(height: 8, width: 8, kernel: 3, stride: 2) == Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        #expect(Padding2D.same(height: 7, width: 7, kernel: 3, stride: 2) == Padding2D(top: 1, bottom: 1, left: 1, right: 1))
        #expect(Padding2D.same(height: 96, width: 96, kernel: 3, stride: 1) == Padding2D(top: 1, bottom: 1, left: 1, right: 1))
    }
}
