import Neural
import Testing
import _TestSupport

/// Central-difference gradient checks, in Double, of every layer and the loss.
@Suite struct GradientCheckTests {
    static let tolerance = 1e-6

    @Test func conv2DWithBiasStrideAndPadding() {
        let conv = Conv2D<Double>(name: "c", inputChannels: 3, outputChannels: 4, kernelSize: (3, 3), stride: 2,
                                  padding: Padding2D(top: 1, bottom: 0, left: 2, right: 1), useBias: true)
        conv.kernel.value = TestTensors.uniform(conv.kernel.value.shape, seed: 11)
        conv.bias!.value = TestTensors.uniform([4], seed: 12)
        let result = GradientCheck.layer(conv, input: TestTensors.uniform([2, 7, 6, 3], seed: 13))
        #expect(result.worstError < Self.tolerance, "\(result)")
    }

    @Test func conv2DSamePaddingNoBias() {
        let conv = Conv2D<Double>(name: "c", inputChannels: 2, outputChannels: 3, kernelSize: (3, 3), useBias: false)
        conv.kernel.value = TestTensors.uniform(conv.kernel.value.shape, seed: 21)
        let result = GradientCheck.layer(conv, input: TestTensors.uniform([2, 5, 5, 2], seed: 22))
        #expect(result.worstError < Self.tolerance, "\(result)")
    }

    @Test func conv2DPointwise() {
        let conv = Conv2D<Double>(name: "c", inputChannels: 4, outputChannels: 3, kernelSize: (1, 1), padding: .zero)
        conv.kernel.value = TestTensors.uniform(conv.kernel.value.shape, seed: 31)
        let result = GradientCheck.layer(conv, input: TestTensors.uniform([2, 3, 4, 4], seed: 32))
        #expect(result.worstError < Self.tolerance, "\(result)")
    }

    @Test func batchNormTraining() {
        let bn = BatchNorm<Double>(name: "bn", channels: 3)
        bn.gamma.value = TestTensors.uniform([3], seed: 41, scale: 2)
        bn.beta.value = TestTensors.uniform([3], seed: 42)
        let result = GradientCheck.layer(bn, input: TestTensors.uniform([4, 3, 2, 3], seed: 43, scale: 3))
        #expect(result.worstError < Self.tolerance, "\(result)")
    }

    @Test func batchNormOnFeatures() {
        let bn = BatchNorm<Double>(name: "bn", channels: 5)
        bn.gamma.value = TestTensors.uniform([5], seed: 44, scale: 2)
        let result = GradientCheck.layer(bn, input: TestTensors.uniform([6, 5], seed: 45))
        #expect(result.worstError < Self.tolerance, "\(result)")
    }

    @Test func batchNormFrozenUsesRunningStatistics() {
        let bn = BatchNorm<Double>(name: "bn", channels: 3)
        bn.movingMean.value = TestTensors.uniform([3], seed: 46)
        bn.movingVariance.value = Tensor(shape: [3], data: [0.5, 2, 1.5])
        bn.isFrozen = true
        let before = bn.movingMean.value
        let result = GradientCheck.layer(bn, input: TestTensors.uniform([2, 2, 2, 3], seed: 47))
        #expect(result.worstError < Self.tolerance, "\(result)")
        #expect(bn.movingMean.value == before, "a frozen batch norm must not update its statistics")
        #expect(bn.gamma.gradient.data.allSatisfy { $0 == 0 })
    }

    @Test func relu() {
        let result = GradientCheck.layer(ReLU<Double>(name: "r"), input: TestTensors.uniform([2, 3, 3, 2], seed: 51, gap: 0.01))
        #expect(result.worstError < Self.tolerance, "\(result)")
    }

    @Test func maxPool() {
        let result = GradientCheck.layer(MaxPool2D<Double>(name: "p"), input: TestTensors.uniform([2, 5, 4, 3], seed: 61))
        #expect(result.worstError < Self.tolerance, "\(result)")
        let overlapping = GradientCheck.layer(MaxPool2D<Double>(name: "p", size: 3, stride: 2),
                                              input: TestTensors.uniform([1, 7, 7, 2], seed: 62))
        #expect(overlapping.worstError < Self.tolerance, "\(overlapping)")
    }

    @Test func globalAveragePool() {
        let result = GradientCheck.layer(GlobalAveragePool<Double>(name: "g"), input: TestTensors.uniform([3, 4, 2, 5], seed: 71))
        #expect(result.worstError < Self.tolerance, "\(result)")
    }

    @Test func flatten() {
        let result = GradientCheck.layer(Flatten<Double>(name: "f"), input: TestTensors.uniform([2, 3, 2, 2], seed: 81))
        #expect(result.worstError < Self.tolerance, "\(result)")
    }

    @Test func dense() {
        let dense = Dense<Double>(name: "d", inputFeatures: 6, outputFeatures: 4)
        dense.kernel.value = TestTensors.uniform([6, 4], seed: 91)
        dense.bias!.value = TestTensors.uniform([4], seed: 92)
        let result = GradientCheck.layer(dense, input: TestTensors.uniform([5, 6], seed: 93))
        #expect(result.worstError < Self.tolerance, "\(result)")
    }

    /// Dropout's mask changes with every forward pass, so it is checked directly:
    /// y = x ⊙ m and dx = dy ⊙ m, with m ∈ {0, 1/(1 − p)}, and identity at inference.
    @Test func dropout() {
        let drop = Dropout<Double>(name: "d", rate: 0.25, seed: 5)
        let x: Tensor<Double> = TestTensors.uniform([8, 100], seed: 101, gap: 0.01)
        let y = drop.forward(x, mode: .training, retain: true)
        let dy: Tensor<Double> = TestTensors.uniform([8, 100], seed: 102)
        let dx = drop.backward(dy, needInputGradient: true)!
        var dropped = 0
        for i in 0..<x.count {
            let m = y.data[i] / x.data[i]
            #expect(abs(m) < 1e-12 || abs(m - 1 / 0.75) < 1e-12)
            #expect(abs(dx.data[i] - dy.data[i] * m) < 1e-12)
            if abs(m) < 1e-12 { dropped += 1 }
        }
        #expect(abs(Double(dropped) / Double(x.count) - 0.25) < 0.05, "dropped \(dropped) of \(x.count)")
        #expect(drop.forward(x, mode: .inference, retain: false) == x)
    }

    @Test(arguments: [1.0, 2.5])
    func binaryCrossEntropy(positiveWeight: Double) {
        let logits: Tensor<Double> = Tensor(shape: [6, 1], data: [-30, -2, -0.1, 0.3, 4, 40])
        let labels: [Double] = [0, 1, 1, 0, 1, 0]
        let (_, gradient) = BinaryCrossEntropy.lossAndGradient(logits: logits, labels: labels, positiveWeight: positiveWeight)
        let eps = 1e-6
        for i in 0..<6 {
            var plus = logits, minus = logits
            plus.data[i] += eps
            minus.data[i] -= eps
            let numeric = (BinaryCrossEntropy.lossAndGradient(logits: plus, labels: labels, positiveWeight: positiveWeight).loss
                - BinaryCrossEntropy.lossAndGradient(logits: minus, labels: labels, positiveWeight: positiveWeight).loss) / (2 * eps)
            #expect(abs(numeric - gradient.data[i]) < 1e-8, "logit \(i)")
        }
    }

    @Test func binaryCrossEntropyIsStableForLargeLogits() {
        let logits: Tensor<Float> = Tensor(shape: [4], data: [-200, 200, -200, 200])
        let (loss, gradient) = BinaryCrossEntropy.lossAndGradient(logits: logits, labels: [0, 1, 1, 0])
        // Two right (loss 0) and two wrong by 200 (loss 200 each): mean 100.
        #expect(abs(loss - 100) < 1e-3)
        #expect(gradient.data.allSatisfy { $0.isFinite })
    }

    /// A whole small network, input gradient included.
    @Test func network() throws {
        let spec = ModelSpec(name: "tiny", inputShape: [6, 6, 2], layers: [
            .conv("c1", 3, bias: true), .batchNorm("bn1"), .relu("r1"), .maxPool("p1"),
            .conv("c2", 4, kernel: 3, stride: 2, padding: .explicit(Padding2D(top: 1, bottom: 1, left: 1, right: 1)), bias: false),
            .relu("r2"), .globalAveragePool("gap"), .dense("d1", 3), .relu("r3"), .dense("logit", 1),
        ])
        let net = try Network<Double>(spec: spec, seed: 3)
        let worst = GradientCheck.network(net, input: TestTensors.uniform([3, 6, 6, 2], seed: 4), labels: [1, 0, 1],
                                          inputStride: 7, parameterStride: 5)
        #expect(worst < 1e-6, "worst relative error \(worst)")
    }
}
