import Foundation
@testable import Neural
import Testing
import _TestSupport

/// `ModelBundle.ensemble`: one network whose logit is the mean of its members'.
@Suite struct EnsembleTests {
    static let spec = ModelSpec(name: "tiny", inputShape: [8, 8, 3], layers: [
        .conv("c1", 4, bias: false), .batchNorm("bn1"), .relu("r1"), .maxPool("p1"),
        .residual("b", [.conv("b_c", 4), .relu("b_r")]), .relu("r2"), .globalAveragePool("gap"), .dense("logit", 1),
    ])
    static let normalization = InputNormalization(mean: [0.7, 0.54, 0.69], std: [0.23, 0.27, 0.21])

    static func member(seed: UInt64, normalization: InputNormalization = normalization, mpp: Double = 0.972) throws -> ModelBundle {
        let net = try Network<Float>(spec: spec, seed: seed)
        for p in net.parameters where p.name.hasSuffix("moving_mean") { p.value = TestTensors.uniform(p.value.shape, seed: seed + 100) }
        let manifest = ModelManifest(name: "m\(seed)", architecture: spec, micronsPerPixel: mpp, normalization: normalization, threshold: 0.4)
        return ModelBundle(manifest: manifest, network: net)
    }

    /// The members run unchanged inside the ensemble, and the final 1 × 1 dense layer multiplies
    /// their sum by 1/n: for n = 2 that is exact, so the only rounding the ensemble adds is the
    /// addition of the two logits, the same as in (zA + zB) / 2.
    @Test func logitIsTheMeanOfTheMembers() throws {
        let a = try Self.member(seed: 1), b = try Self.member(seed: 2)
        let ensemble = try ModelBundle.ensemble([("a.hsmodel", a), ("b.hsmodel", b)], name: "pair")
        let x: Tensor<Float> = TestTensors.uniform([4, 8, 8, 3], seed: 9)
        let za = a.network.forward(x).data, zb = b.network.forward(x).data
        let z = ensemble.network.forward(x).data
        for i in 0..<4 { #expect(z[i] == (za[i] + zb[i]) / 2, "ensemble \(z[i]), members \(za[i]) and \(zb[i])") }
        #expect(ensemble.manifest.normalization == Self.normalization)
        #expect(ensemble.manifest.operatingPoints == nil, "an ensemble is calibrated afresh")
        #expect(ensemble.network.parameterCount() == 2 * a.network.parameterCount() + 2)
        // Screening runs it as a graph: the same probabilities (tolerance as in ResidualTests).
        let p = try x.data.withUnsafeBufferPointer { try ensemble.classifier().probabilities($0.baseAddress!, count: 4) }
        for i in 0..<4 { #expect(abs(Double(p[i]) - 1 / (1 + exp(-Double(z[i])))) <= 1e-4) }
    }

    @Test func threeMembersNestAndSurviveSaving() throws {
        let members = try (1...3).map { ("m\($0).hsmodel", try Self.member(seed: UInt64($0))) }
        let ensemble = try ModelBundle.ensemble(members, name: "three")
        let dir = TemporaryDirectory()
        let url = dir.file("three.hsmodel")
        try ensemble.save(to: url)
        let loaded = try ModelBundle.load(from: url)
        let x: Tensor<Float> = TestTensors.uniform([2, 8, 8, 3], seed: 10)
        let z = loaded.network.forward(x).data
        let sums = members.map { $0.1.network.forward(x).data }
        for i in 0..<2 {
            let mean = (Double(sums[0][i]) + Double(sums[1][i]) + Double(sums[2][i])) / 3
            #expect(abs(Double(z[i]) - mean) <= 1e-6 * max(1, abs(mean)), "ensemble \(z[i]), mean of members \(mean)")
        }
        #expect(loaded.manifest.training?["ensembleOf"] == .array(["m1.hsmodel", "m2.hsmodel", "m3.hsmodel"].map { .string($0) }))
    }

    @Test func membersThatTakeOtherInputAreRefused() throws {
        let a = try Self.member(seed: 1)
        let cases: [(ModelBundle, String)] = [
            (try Self.member(seed: 2, normalization: .unit), "b.hsmodel: normalises its input differently from a.hsmodel"),
            (try Self.member(seed: 2, mpp: 0.5), "b.hsmodel: is for 0.5 µm per pixel"),
        ]
        for (b, phrase) in cases {
            do {
                _ = try ModelBundle.ensemble([("a.hsmodel", a), ("b.hsmodel", b)], name: "bad")
                Issue.record("accepted: \(phrase)")
            } catch {
                #expect(error.description.contains(phrase), "\(error.description)")
            }
        }
        #expect(throws: ModelBundleError.self) { try ModelBundle.ensemble([("a.hsmodel", a)], name: "one") }
    }
}
