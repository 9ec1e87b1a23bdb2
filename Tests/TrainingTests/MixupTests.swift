import Foundation
import Neural
import Testing
@testable import Training

@Suite struct MixupTests {
    /// Sample moments of seeded draws against the distributions' own: Gamma(k) has mean and
    /// variance k; Beta(α, α) has mean 1/2 and variance 1/(4(2α + 1)). With n draws the sample
    /// mean's standard error is σ/√n, so the bound of 5 standard errors fails a correct sampler
    /// with probability below 1e-6 (and the draws are seeded, so the outcome is fixed).
    @Test(arguments: [0.2, 0.5, 1.0, 3.0]) func drawsHaveTheirDistributionsMoments(_ shape: Double) {
        let n = 20_000
        var g = SplitMix64(seed: 5)
        let gammas = (0..<n).map { _ in Mixup.gamma(shape, using: &g) }
        let gammaMean = gammas.reduce(0, +) / Double(n)
        #expect(gammas.allSatisfy { $0 > 0 && $0.isFinite })
        #expect(abs(gammaMean - shape) < 5 * shape.squareRoot() / Double(n).squareRoot(), "Gamma(\(shape)) mean \(gammaMean)")

        let betas = (0..<n).map { _ in Mixup.beta(shape, shape, using: &g) }
        let mean = betas.reduce(0, +) / Double(n)
        let variance = betas.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
        let expected = 1 / (4 * (2 * shape + 1))
        #expect(betas.allSatisfy { (0...1).contains($0) })
        #expect(abs(mean - 0.5) < 5 * expected.squareRoot() / Double(n).squareRoot(), "Beta(\(shape)) mean \(mean)")
        // For values in [0, 1], (x − 1/2)⁴ ≤ 1/16, so the sample variance's standard error is at most 0.25/√n.
        #expect(abs(variance - expected) < 5 * 0.25 / Double(n).squareRoot(), "Beta(\(shape)) variance \(variance) against \(expected)")
    }

    /// Each input's last element carries its own target, so after the blend it must equal the
    /// blended target exactly (the same two multiplies and one add); the other elements are
    /// all blended by the same λ and stay between the two inputs. The same seed blends the same.
    @Test func blendsInputsAndTargetsTogether() {
        let count = 8, size = 6
        let targets: [Float] = [0, 1, 1, 0, 1, 0, 0, 1]
        var base = [Float](repeating: 0, count: count * size)
        for i in 0..<count {
            for k in 0..<(size - 1) { base[i * size + k] = Float(i * 10 + k) }
            base[i * size + size - 1] = targets[i]
        }
        func run(seed: UInt64) -> ([Float], [Float]) {
            var input = base
            var g = SplitMix64(seed: seed)
            let mixed = input.withUnsafeMutableBufferPointer {
                Mixup(alpha: 0.4).mix($0.baseAddress!, targets: targets, size: size, generator: &g)
            }
            return (input, mixed)
        }
        let (input, mixed) = run(seed: 3)
        for i in 0..<count {
            #expect(input[i * size + size - 1] == mixed[i], "patch \(i)")
            #expect((0...1).contains(mixed[i]))
            // x_k = λ·(10i + k) + (1 − λ)·(10j + k) = k + 10·(λi + (1 − λ)j): the same offset for every k.
            let offset = input[i * size]
            for k in 1..<(size - 1) { #expect(abs(input[i * size + k] - (offset + Float(k))) < 1e-4) }
            #expect(offset >= 0 && offset <= Float(10 * (count - 1)))
        }
        #expect(run(seed: 3).0 == input && run(seed: 3).1 == mixed)
        #expect(run(seed: 4).0 != input)
        #expect(mixed != targets, "α = 0.4 leaves some targets blended")
    }
}
