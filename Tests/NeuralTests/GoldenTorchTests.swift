import Foundation
import Neural
import Testing
import _TestSupport

/// Outputs, gradients and optimiser steps against PyTorch 1.13 (float64), from the fixtures
/// written by Scripts/golden_torch.py.
@Suite struct GoldenTorchTests {
    struct NamedTensor: Decodable { var shape: [Int]; var data: [Double] }
    struct Steps: Decodable { var kind: OptimizerKind; var learningRate: Double; var losses: [Double]; var weightsAfter: [String: NamedTensor] }
    struct Fixture: Decodable {
        var spec: ModelSpec
        var torchVersion: String
        var weights: [String: NamedTensor]
        var input: NamedTensor
        var labels: [Double]
        var positiveWeight: Double
        var trainingLogits: [Double]
        var loss: Double
        var gradients: [String: NamedTensor]
        var inputGradient: [Double]
        var buffersAfterTraining: [String: [Double]]
        var inferenceLogits: [Double]
        var steps: [String: Steps]
    }

    static let names = ["golden-flatten", "golden-compact", "golden-residual"]

    static func load(_ name: String) throws -> Fixture {
        let url = TestPaths.fixtures.appendingPathComponent("golden/\(name).json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func network<T: NeuralScalar>(_ f: Fixture, _: T.Type) throws -> Network<T> {
        let net = try Network<T>(spec: f.spec)
        try net.loadWeights(f.weights.mapValues { Tensor<T>(shape: $0.shape, data: $0.data.map { T($0) }) })
        return net
    }

    /// max |a − b| / max(1, |b|).
    func worst(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "compared \(a.count) values with \(b.count)")
        return zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    @Test(arguments: names)
    func forwardAndBackwardInDouble(name: String) throws {
        try check(name, Double.self, tolerance: 1e-10)
    }

    @Test(arguments: names)
    func forwardAndBackwardInFloat(name: String) throws {
        try check(name, Float.self, tolerance: 2e-5)
    }

    func check<T: NeuralScalar>(_ name: String, _: T.Type, tolerance: Double) throws {
        let f = try Self.load(name)
        let net = try network(f, T.self)
        let x = Tensor<T>(shape: f.input.shape, data: f.input.data.map { T($0) })
        net.zeroGradients()
        let logits = net.forward(x, mode: .training)
        #expect(worst(logits.data.map(Double.init), f.trainingLogits) < tolerance, "\(name) \(T.self): training logits")
        let (loss, dLogits) = BinaryCrossEntropy.lossAndGradient(logits: logits, labels: f.labels.map { T($0) },
                                                                 positiveWeight: T(f.positiveWeight))
        #expect(abs(Double(loss) - f.loss) < tolerance, "\(name) \(T.self): loss \(loss) vs \(f.loss)")
        let dx = try #require(net.backward(dLogits, inputGradient: true))
        #expect(worst(dx.data.map(Double.init), f.inputGradient) < tolerance, "\(name) \(T.self): input gradient")
        for p in net.trainableParameters {
            let expected = try #require(f.gradients[p.name], "no PyTorch gradient for \(p.name)")
            #expect(p.gradient.shape == expected.shape)
            #expect(worst(p.gradient.data.map(Double.init), expected.data) < tolerance, "\(name) \(T.self): d\(p.name)")
        }
        for p in net.parameters where p.isBuffer {
            let expected = try #require(f.buffersAfterTraining[p.name])
            #expect(worst(p.value.data.map(Double.init), expected) < tolerance, "\(name) \(T.self): \(p.name) after training")
        }
        let inference = net.forward(x, mode: .inference)
        #expect(worst(inference.data.map(Double.init), f.inferenceLogits) < tolerance, "\(name) \(T.self): inference logits")
    }

    /// Three optimiser steps against PyTorch's. In float64, with at most a few thousand terms per
    /// sum and values below about 10, each step's rounding is below 1e-12, so 1e-10 (relative to
    /// max(1, |w|)) holds on any CPU, except where the step itself amplifies rounding:
    ///
    /// Adam and AdamW divide the gradient by √v̂ + ε. Where a gradient is zero in exact arithmetic
    /// (the bias of a convolution followed by batch norm: batch norm subtracts the batch mean),
    /// both engines compute rounding noise instead, and the step turns it into a move of up to
    /// lr/ε times the noise (10⁶ here). There the bound is the noise's: each step adds
    /// lr/ε · γ(M) · S, with M ≤ 10⁴ terms in any gradient sum of these fixtures and S the largest
    /// gradient of the step (the scale of the terms summed).
    @Test(arguments: names)
    func optimizerStepsMatch(name: String) throws {
        let f = try Self.load(name)
        for (key, steps) in f.steps.sorted(by: { $0.key < $1.key }) {
            let net = try network(f, Double.self)
            let optimizer = Optimizer<Double>(steps.kind, schedule: .constant(steps.learningRate))
            let x = Tensor<Double>(shape: f.input.shape, data: f.input.data)
            var losses: [Double] = []
            // Per parameter and element, the rounding noise the steps may have amplified.
            var amplified: [String: [Double]] = [:]
            let epsilon: Double? = switch steps.kind {
            case .sgd: nil
            case let .adam(_, _, epsilon, _), let .adamW(_, _, epsilon, _): epsilon
            }
            for _ in 0..<3 {
                net.zeroGradients()
                let (loss, d) = BinaryCrossEntropy.lossAndGradient(logits: net.forward(x, mode: .training), labels: f.labels,
                                                                   positiveWeight: f.positiveWeight)
                losses.append(loss)
                net.backward(d)
                if let epsilon {
                    let scale = net.trainableParameters.flatMap { $0.gradient.data.map(abs) }.max() ?? 0
                    let noise = steps.learningRate / epsilon * RoundingBound.gamma(10_000, unitRoundoff: 0x1p-53) * scale
                    for p in net.trainableParameters {
                        var a = amplified[p.name] ?? [Double](repeating: 0, count: p.gradient.count)
                        for (i, g) in p.gradient.data.enumerated() where abs(g) < epsilon { a[i] += noise }
                        amplified[p.name] = a
                    }
                }
                optimizer.update(net.trainableParameters)
            }
            #expect(worst(losses, steps.losses) < 1e-10, "\(name) \(key): losses \(losses) vs \(steps.losses)")
            for p in net.parameters {
                let expected = try #require(steps.weightsAfter[p.name])
                let extra = amplified[p.name] ?? []
                let worstRatio = p.value.data.indices.map { i in
                    abs(p.value.data[i] - expected.data[i]) / (1e-10 * max(1, abs(expected.data[i])) + (extra.isEmpty ? 0 : extra[i]))
                }.max() ?? 0
                #expect(worstRatio <= 1, "\(name) \(key): \(p.name) after 3 steps: error reaches \(worstRatio) × its bound")
            }
        }
    }
}
