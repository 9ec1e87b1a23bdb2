import Foundation
@testable import Neural
import Testing
import _TestSupport

/// Residual blocks: gradients against central differences, the graph a bundle runs them as
/// against the network's own pass in Double, saving and loading, and the errors a bad spec gets.
@Suite struct ResidualTests {
    /// A ResNet basic block's sum (its ReLU is the next layer), with a projection shortcut or none.
    static func block(_ name: String, channels: Int, projection: Bool) -> LayerSpec {
        .residual(name, [.conv("\(name)_c1", channels, bias: false), .batchNorm("\(name)_bn1"), .relu("\(name)_r1"),
                         .conv("\(name)_c2", channels, bias: false), .batchNorm("\(name)_bn2")],
                  shortcut: projection ? [.conv("\(name)_proj", channels, kernel: 1, bias: false), .batchNorm("\(name)_bnp")] : nil)
    }

    static let spec = ModelSpec(name: "tiny-resnet", inputShape: [8, 8, 3], layers: [
        .conv("stem", 4, bias: false), .batchNorm("stem_bn"), .relu("stem_relu"),
        block("b1", channels: 4, projection: false), .relu("b1_relu"), .maxPool("pool"),
        block("b2", channels: 6, projection: true), .relu("b2_relu"),
        .globalAveragePool("gap"), .dense("logit", 1),
    ])

    @Test(arguments: [false, true])
    func blockGradientsMatchCentralDifferences(projection: Bool) throws {
        let spec = ModelSpec(name: "r", inputShape: [5, 5, 3], layers: [
            Self.block("b", channels: projection ? 4 : 3, projection: projection), .globalAveragePool("gap"), .dense("logit", 1),
        ])
        let net = try Network<Double>(spec: spec, seed: 11)
        let block = try #require(net.layers[0] as? Residual<Double>)
        for bn in (block.branch.layers + block.shortcut.layers).compactMap({ $0 as? BatchNorm<Double> }) {
            bn.gamma.value = TestTensors.uniform([bn.channels], seed: 12, scale: 2)
            bn.beta.value = TestTensors.uniform([bn.channels], seed: 13)
        }
        let result = GradientCheck.layer(block, input: TestTensors.uniform([3, 5, 5, 3], seed: 14))
        #expect(result.worstError < 1e-6, "\(result)")
        #expect(result.checked > 60, "the parameters of both paths are checked")
    }

    /// The whole network's loss gradient, through two blocks, against central differences.
    @Test func networkGradientsMatchCentralDifferences() throws {
        let net = try Network<Double>(spec: Self.spec, seed: 3)
        let parameters = net.trainableParameters
        #expect(parameters.contains { $0.name == "b2_proj.kernel" } && parameters.contains { $0.name == "b1_bn2.gamma" })
        let worst = GradientCheck.network(net, input: TestTensors.uniform([3, 8, 8, 3], seed: 4), labels: [1, 0, 1],
                                          inputStride: 5, parameterStride: 3)
        #expect(worst < 1e-6, "worst relative error \(worst)")
    }

    /// A trained-looking Float network (batch norm statistics away from 0 and 1) and the same
    /// weights in Double.
    static func networks() throws -> (Network<Float>, Network<Double>) {
        let net = try Network<Float>(spec: spec, seed: 7)
        var seed: UInt64 = 20
        for p in net.parameters where p.name.contains("bn") {
            seed += 1
            let values: Tensor<Float> = TestTensors.uniform(p.value.shape, seed: seed, scale: 0.5)
            // γ and the variance stay positive, near 1; β and the mean spread around 0.
            let positive = p.name.hasSuffix("gamma") || p.name.hasSuffix("variance")
            p.value = Tensor(shape: p.value.shape, data: values.data.map { positive ? 1 + $0 : $0 })
        }
        let reference = try Network<Double>(spec: spec)
        try reference.loadWeights(net.weights().mapValues { Tensor(shape: $0.shape, data: $0.data.map(Double.init)) })
        return (net, reference)
    }

    /// A bundle runs a residual network as its exported graph, on the graph engine.
    ///
    /// Tolerance: each logit comes through six layers of float32 sums of at most K = 54 products
    /// (3×3×6), each off by at most about K·ε·Σ|xᵢwᵢ| with ε = 6·10⁻⁸, which for values of order 1
    /// stays below 10⁻⁵ in all; σ' ≤ 1/4 shrinks it further. A wrong branch, shortcut or layout
    /// errs by the size of the values, so 1e-4 separates the two with room to spare.
    @Test func bundleRunsTheGraphAndMatchesDouble() throws {
        let (net, reference) = try Self.networks()
        let manifest = ModelManifest(name: "tiny-resnet", architecture: Self.spec, micronsPerPixel: 0.972,
                                     normalization: .unit, threshold: 0.5)
        let classifier = ModelBundle(manifest: manifest, network: net).classifier()
        #expect(classifier is GraphClassifier, "a residual network runs on the graph engine")
        let x: Tensor<Float> = TestTensors.uniform([5, 8, 8, 3], seed: 30)
        let probabilities = try x.data.withUnsafeBufferPointer { try classifier.probabilities($0.baseAddress!, count: 5) }
        let exact = reference.predict(Tensor(shape: x.shape, data: x.data.map(Double.init)))
        for (p, q) in zip(probabilities, exact) {
            #expect(abs(Double(p) - q) <= 1e-4, "graph \(p), Double network \(q)")
        }
        // The network's own pass in Float (the fallback) agrees too.
        for (p, q) in zip(net.predict(x), exact) { #expect(abs(Double(p) - q) <= 1e-4) }
    }

    @Test func bundleRoundTripPredictsTheSame() throws {
        let (net, _) = try Self.networks()
        let dir = TemporaryDirectory()
        let url = dir.file("tiny-resnet.hsmodel")
        let manifest = ModelManifest(name: "tiny-resnet", architecture: Self.spec, micronsPerPixel: 0.972,
                                     normalization: .unit, threshold: 0.5)
        try ModelBundle(manifest: manifest, network: net).save(to: url)
        let loaded = try ModelBundle.load(from: url)
        #expect(loaded.manifest.architecture == Self.spec)
        let x: Tensor<Float> = TestTensors.uniform([2, 8, 8, 3], seed: 31)
        #expect(loaded.network.predict(x) == net.predict(x))
    }

    @Test(arguments: [
        (LayerSpec.residual("r", [.conv("c", 5)]), "its branch gives [8, 8, 5] but its shortcut [8, 8, 3]"),
        (LayerSpec.residual("r", []), "needs 'layers'"),
        (LayerSpec.residual("r", [.conv("stem", 3)]), "'stem' is used twice"),
        (LayerSpec.residual("r", [.globalAveragePool("g")], shortcut: [.globalAveragePool("g2")]), "needs an image input"),
    ])
    func badBlocksGetClearErrors(_ layer: LayerSpec, _ phrase: String) {
        let spec = ModelSpec(name: "bad", inputShape: [8, 8, 3], layers: [.conv("stem", 3), layer, .globalAveragePool("gap"), .dense("logit", 1)])
        #expect(throws: ModelSpecError.self) { try Network<Float>(spec: spec) }
        do {
            _ = try Network<Float>(spec: spec)
        } catch {
            #expect(error.message.contains(phrase), "\(error.message)")
        }
    }

    @Test func nestingIsBounded() {
        var layer = LayerSpec.relu("innermost")
        for depth in 0..<9 { layer = .residual("r\(depth)", [layer]) }
        let spec = ModelSpec(name: "deep", inputShape: [4, 4, 2], layers: [layer, .globalAveragePool("gap"), .dense("logit", 1)])
        do {
            _ = try Network<Float>(spec: spec)
            Issue.record("nine nested blocks were accepted")
        } catch {
            #expect(error.message.contains("nests more than 8 deep"), "\(error.message)")
        }
    }
}
