import Foundation
import Neural

/// Model bundles with known behaviour, for testing the screening pipeline's geometry.
public enum SyntheticModel {
    /// A bundle whose logit is `k · (darkness − 0.4)`, where darkness = 1 − mean(green) / 255
    /// over the window's centre 32×32 pixels: a purple or dark centre scores near 1, a white
    /// one near 0, and a centre that is part purple scores by the purple share.
    public static func centreDarkness(micronsPerPixel: Double = 0.972, k: Float = 40, threshold: Double = 0.5) throws -> ModelBundle {
        let spec = ModelSpec(name: "centre-darkness", inputShape: [96, 96, 3], layers: [.flatten("flatten"), .dense("logit", 1)])
        let network = try Network<Float>(spec: spec)
        var kernel = [Float](repeating: 0, count: 96 * 96 * 3)
        for y in 32..<64 {
            for x in 32..<64 { kernel[(y * 96 + x) * 3 + 1] = -k / 1024 }
        }
        try network.loadWeights(["logit.kernel": Tensor(shape: [96 * 96 * 3, 1], data: kernel),
                                 "logit.bias": Tensor(shape: [1], data: [k * 0.6])])
        let manifest = ModelManifest(name: "centre-darkness", architecture: spec, micronsPerPixel: micronsPerPixel,
                                     normalization: InputNormalization(mean: [0, 0, 0], std: [1, 1, 1]), threshold: threshold)
        return ModelBundle(manifest: manifest, network: network)
    }
}
