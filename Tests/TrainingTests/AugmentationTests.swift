import Foundation
import Imaging
import Neural
import Testing
@testable import Training
import _TestSupport

@Suite struct AugmentationTests {
    /// Three real patches (two TIFF, one JPEG) as bytes.
    static func patches() throws -> [UInt8] {
        let tif = ["0043c12289c78106346614caf7bd1a525f40b1d7", "0011a007b64a4a0f351ee4d7d00f237b1713b9bf"]
            .map { TestPaths.samples.appendingPathComponent("patches/\($0).tif").path }
        let jpg = TestPaths.fixtures.appendingPathComponent("pcam-jpeg/00d83693be2fb044e9cdd346606b4ed85d81b459.jpg").path
        return try (tif + [jpg]).flatMap { try PatchDataset.readPatch($0).pixels }
    }

    @Test func parsing() throws {
        #expect(try Augmentation(parsing: "standard") == .standard)
        #expect(try Augmentation(parsing: "robust") == .robust)
        let some = try Augmentation(parsing: "d4, hed")
        #expect(some.dihedral && !some.colorJitter && some.hed > 0 && some.jpegProbability == 0)
        #expect(try !Augmentation(parsing: "none").usesRobustTransforms)
        #expect(throws: DatasetError.self) { _ = try Augmentation(parsing: "d4,sharpen") }
        #expect(Augmentation.robust.summary.contains("hed") && Augmentation.standard.summary == "d4, jitter")
    }

    /// The same seed gives the same batch whatever the thread count; another seed another batch.
    @Test func robustFillIsSeeded() throws {
        let pixels = try Self.patches()
        let augmenter = PatchAugmenter(normalization: InputNormalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]),
                                       augment: true, augmentation: .robust)
        func batch(seed: UInt64, threads: Int) -> [Float] {
            let saved = Threading.threadCount
            defer { Threading.threadCount = saved }
            Threading.threadCount = threads
            var out = [Float](repeating: 0, count: pixels.count)
            var g = SplitMix64(seed: seed)
            out.withUnsafeMutableBufferPointer { o in
                pixels.withUnsafeBufferPointer { augmenter.fill(o.baseAddress!, from: $0.baseAddress!, count: 3, generator: &g) }
            }
            return out
        }
        let one = batch(seed: 7, threads: 1)
        #expect(one == batch(seed: 7, threads: 2))
        #expect(one != batch(seed: 8, threads: 1))
        #expect(one.allSatisfy { $0.isFinite })
    }

    /// With α = 1 and β = 0 the stain transform is the identity, up to float rounding of
    /// log/exp and a 3×3 matrix and its inverse (a few ulps each; 1e-4 leaves a wide margin).
    /// Raising haematoxylin darkens the image.
    @Test func stainTransform() throws {
        let pixels = try Self.patches()
        let image = pixels.prefix(96 * 96 * 3).map { max(Float(1) / 255, Float($0) / 255) }
        var same = image
        PatchAugmenter.perturbStains(&same, alpha: [1, 1, 1], beta: [0, 0, 0])
        #expect(zip(same, image).map { abs($0 - $1) }.max()! < 1e-4)
        var darker = image
        PatchAugmenter.perturbStains(&darker, alpha: [1.3, 1, 1], beta: [0.05, 0, 0])
        #expect(darker.reduce(0, +) < image.reduce(0, +))
        // The matrices are inverses.
        for i in 0..<3 {
            for j in 0..<3 {
                let v = (0..<3).reduce(0.0) { $0 + StainMatrix.rgbFromHED[i][$1] * StainMatrix.hedFromRGB[$1][j] }
                #expect(abs(v - (i == j ? 1 : 0)) < 1e-12)
            }
        }
    }

    /// A zoom of 1 is exact; a zoom keeps the centre pixel; blur keeps the mean of a flat image.
    @Test func geometryAndBlur() throws {
        let image = try Self.patches().prefix(96 * 96 * 3).map { Float($0) / 255 }
        #expect(PatchAugmenter.zoomed(image, n: 96, by: 1) == image)
        let flat = [Float](repeating: 0.4, count: 96 * 96 * 3)
        #expect(PatchAugmenter.blurred(flat, n: 96, sigma: 1).allSatisfy { abs($0 - 0.4) < 1e-6 })
        let blurred = PatchAugmenter.blurred(image, n: 96, sigma: 1)
        func roughness(_ x: [Float]) -> Float { (1..<96).reduce(0) { $0 + abs(x[$1 * 3] - x[($1 - 1) * 3]) } }
        #expect(roughness(blurred) < roughness(image))
    }
}
