import Foundation
import Neural
import Testing
import _TestSupport

@Suite struct ModelSpecTests {
    @Test func compactMatchesTheReferenceNetwork() throws {
        let net = try Network<Float>(spec: .compact())
        #expect(net.parameterCount() == 1_173_473)
        #expect(net.shapes.last == [1])
        let gflop = Double(net.flopsPerSample) / 1e9
        #expect(abs(gflop - 0.95) < 0.01, "compact: \(gflop) GFLOP per patch")
    }

    @Test func compactSlim() throws {
        let net = try Network<Float>(spec: ModelSpec.builtin("compact-slim")!)
        #expect(net.parameterCount() == 306_145)
        #expect(abs(Double(net.flopsPerSample) / 1e9 - 0.400) < 0.001)
    }

    /// Counted by hand: stem 864 + 64; stage 1, two blocks of 2 × (9·32·32 + 64); stage 2,
    /// 9·32·64 + 9·64·64 + 2·128 + 32·64 + 128, then 2 × (9·64·64 + 128); stage 3 likewise with
    /// 64 → 128; the logit 128 + 1.
    @Test func resnetSlim() throws {
        let net = try Network<Float>(spec: ModelSpec.builtin("resnet-slim")!)
        #expect(net.parameterCount() == 695_457)
        #expect(net.shapes.last == [1])
        #expect(net.layers.filter { $0 is Residual<Float> }.count == 6)
        let gflop = Double(net.flopsPerSample) / 1e9
        #expect(abs(gflop - 0.49) < 0.005, "resnet-slim: \(gflop) GFLOP per patch")
    }

    @Test func vgg16MatchesKeras() throws {
        let net = try Network<Float>(spec: .vgg16())
        #expect(net.parameterCount() == 15_894_849)
        let base = net.layers.prefix { $0.name != "flatten" }.flatMap { $0.trainableParameters }.reduce(0) { $0 + $1.value.count }
        #expect(base == 14_714_688)
        #expect(net.layers.contains { $0.name == "block5_conv1" })
        #expect(net.shapes[net.layers.firstIndex { $0.name == "flatten" }!] == [3, 3, 512])
    }

    /// "block5 trainable": layers before block5_conv1 are frozen and get no gradients.
    @Test func freezingComputesNoWeightGradients() throws {
        let spec = ModelSpec(name: "small", inputShape: [8, 8, 3], layers: [
            .conv("block1_conv1", 4), .relu("block1_relu1"), .maxPool("block1_pool"),
            .conv("block2_conv1", 4), .relu("block2_relu1"), .globalAveragePool("gap"), .dense("logit", 1),
        ])
        let net = try Network<Float>(spec: spec, seed: 1)
        try net.setTrainable(from: "block2_conv1")
        #expect(net.trainableParameters.map(\.name) == ["block2_conv1.kernel", "block2_conv1.bias", "logit.kernel", "logit.bias"])
        #expect(net.parameterCount(trainableOnly: true) == 3 * 3 * 4 * 4 + 4 + 4 + 1)
        net.zeroGradients()
        let x: Tensor<Float> = TestTensors.uniform([2, 8, 8, 3], seed: 2)
        let (_, d) = BinaryCrossEntropy.lossAndGradient(logits: net.forward(x, mode: .training), labels: [1, 0])
        net.backward(d)
        let frozen = net.parameters.filter { $0.name.hasPrefix("block1") }
        #expect(frozen.allSatisfy { p in p.gradient.data.allSatisfy { $0 == 0 } })
        #expect(net.trainableParameters.contains { p in p.gradient.data.contains { $0 != 0 } })
        #expect(throws: ModelSpecError.self) { try net.setTrainable(from: "block9_conv1") }
    }

    @Test func specRoundTripsThroughJSON() throws {
        for spec in [ModelSpec.compact(), .vgg16()] {
            let data = try JSONEncoder().encode(spec)
            #expect(try JSONDecoder().decode(ModelSpec.self, from: data) == spec)
        }
        let explicit = LayerSpec.conv("c", 2, padding: .explicit(Padding2D(top: 1, bottom: 2, left: 0, right: 1)))
        let json = String(decoding: try JSONEncoder().encode(explicit), as: UTF8.self)
        #expect(json.contains("[1,2,0,1]"))
    }

    @Test func invalidSpecsAreRejected() {
        let noLogit = ModelSpec(name: "x", inputShape: [8, 8, 3], layers: [.conv("c", 2), .globalAveragePool("g")])
        #expect(throws: ModelSpecError.self) { try Network<Float>(spec: noLogit) }
        let denseOnImage = ModelSpec(name: "x", inputShape: [8, 8, 3], layers: [.dense("d", 1)])
        #expect(throws: ModelSpecError.self) { try Network<Float>(spec: denseOnImage) }
        let duplicate = ModelSpec(name: "x", inputShape: [8, 8, 3], layers: [.conv("c", 2), .conv("c", 2), .globalAveragePool("g"), .dense("d", 1)])
        #expect(throws: ModelSpecError.self) { try Network<Float>(spec: duplicate) }
    }

    @Test func initialisationIsSeeded() throws {
        let a = try Network<Float>(spec: .compact(), seed: 9).weights()
        let b = try Network<Float>(spec: .compact(), seed: 9).weights()
        let c = try Network<Float>(spec: .compact(), seed: 10).weights()
        #expect(a == b)
        #expect(a != c)
    }

    @Test func schedules() {
        #expect(LearningRateSchedule.constant(0.1).rate(atStep: 99) == 0.1)
        let step = LearningRateSchedule.step(base: 1, every: 10, gamma: 0.5)
        #expect(step.rate(atStep: 9) == 1 && step.rate(atStep: 10) == 0.5 && step.rate(atStep: 25) == 0.25)
        let cosine = LearningRateSchedule.cosine(base: 1, minimum: 0, totalSteps: 110, warmupSteps: 10)
        #expect(cosine.rate(atStep: 0) == 0.1)
        #expect(cosine.rate(atStep: 10) == 1)
        #expect(abs(cosine.rate(atStep: 60) - 0.5) < 1e-12)
        #expect(cosine.rate(atStep: 110) == 0)
    }
}
