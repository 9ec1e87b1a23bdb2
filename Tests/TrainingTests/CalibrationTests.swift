import Foundation
import Neural
import Testing
import Training
import _TestSupport

@Suite struct CalibrationTests {
    /// Labels drawn from σ(z / T₀) give back T₀. With 20,000 draws the estimate's standard
    /// error is about 2 % here, so 10 % is five standard errors.
    @Test(arguments: [0.5, 1.0, 2.5]) func temperatureIsRecovered(_ t0: Double) {
        var g = SplitMix64(seed: 11)
        var logits: [Double] = [], labels: [Int] = []
        for _ in 0..<20_000 {
            let z = Double.random(in: -8...8, using: &g)
            logits.append(z)
            labels.append(Double.random(in: 0..<1, using: &g) < 1 / (1 + exp(-z / t0)) ? 1 : 0)
        }
        let t = Calibration.fitTemperature(logits: logits, labels: labels)
        #expect(abs(t / t0 - 1) < 0.1)
    }

    /// The screening threshold is the highest that keeps the sensitivity asked for.
    @Test func screeningThreshold() {
        var g = SplitMix64(seed: 3)
        let labels = (0..<500).map { $0 % 3 == 0 ? 1 : 0 }
        let scores = labels.map { Double.random(in: 0..<0.8, using: &g) + 0.2 * Double($0) }
        let t = Calibration.screeningThreshold(scores, labels, sensitivity: 0.95)
        func sensitivity(_ t: Double) -> Double { Confusion(probabilities: scores, labels: labels, threshold: t).sensitivity }
        #expect(sensitivity(t) >= 0.95)
        let above = scores.enumerated().filter { labels[$0.offset] == 1 && $0.element > t }.map(\.element).min()!
        #expect(sensitivity(above) < 0.95)
    }

    /// Folding divides the logit by T. With T = 2 every weight is halved exactly, so the
    /// engine's logits are exactly halved too (same products, same summation order).
    @Test func foldingDividesTheLogit() throws {
        let bundle = try SyntheticModel.centreDarkness()
        let pixels = try AugmentationTests.patches()
        let augmenter = PatchAugmenter(normalization: bundle.manifest.normalization, augment: false)
        var input = [Float](repeating: 0, count: pixels.count)
        input.withUnsafeMutableBufferPointer { o in pixels.withUnsafeBufferPointer { augmenter.normalize(o.baseAddress!, from: $0.baseAddress!, count: 3) } }
        let before = input.withUnsafeBufferPointer { InferenceEngine(network: bundle.network).logits($0.baseAddress!, count: 3) }
        try Calibration.fold(temperature: 2, into: bundle.network, spec: bundle.manifest.architecture)
        let after = input.withUnsafeBufferPointer { InferenceEngine(network: bundle.network).logits($0.baseAddress!, count: 3) }
        #expect(after == before.map { $0 / 2 })
    }
}
