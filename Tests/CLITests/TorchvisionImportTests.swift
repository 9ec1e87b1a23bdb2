import Foundation
import Imaging
@testable import Neural
import Slides
import Testing
import Training
import _TestSupport

/// torchvision's VGG16, ResNet-18, ResNet-50, DenseNet-121, MobileNetV2 and EfficientNet-B0
/// (Debian's python3-torchvision 0.14, seeded random weights) imported from ONNX give
/// onnxruntime's probabilities on 256 real PCam patches from ../shared.
///
/// The models are large, so they are made rather than committed: `.ci/run` makes them with
/// `Scripts/make_torchvision_models.py` and `Scripts/onnx_reference.py` into
/// `.data/torchvision/`; without them the test is skipped, saying so.
@Suite struct TorchvisionImportTests {
    static let folder = TestPaths.repositoryRoot.appendingPathComponent(".data/torchvision")
    static let architectures = ["vgg16", "resnet18", "resnet50", "densenet121", "mobilenet_v2", "efficientnet_b0"]
    static let patches = TestPaths.sharedData.appendingPathComponent("pcam-kaggle")
    static var available: Bool {
        architectures.allSatisfy { FileManager.default.fileExists(atPath: folder.appendingPathComponent("\($0).reference.json").path) }
            && FileManager.default.fileExists(atPath: patches.appendingPathComponent("train_labels.csv").path)
    }

    struct Reference: Decodable { var ids: [String]; var probabilities: [[Double]] }

    @Test(.enabled(if: available, "the torchvision models are not in .data/torchvision (made by .ci/run with Debian's python3-torch; see Scripts/make_torchvision_models.py)"),
          arguments: architectures)
    func matchesOnnxruntimeOnRealPatches(_ architecture: String) throws {
        try Self.compare(Self.folder.appendingPathComponent("\(architecture).onnx"), reference: Self.folder.appendingPathComponent("\(architecture).reference.json"),
                         normalization: "imagenet", classes: 2)
    }

    static let keras = TestPaths.repositoryRoot.appendingPathComponent(".data/keras")

    /// The seed project's Keras VGG16 with its head (Flatten, Dense 256 ReLU, Dense 1 sigmoid),
    /// saved by tensorflow-cpu and converted by tf2onnx (Scripts/make_keras_vgg16.py): its
    /// Transpose and Shape arithmetic around the Flatten run, and the probabilities match.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: keras.appendingPathComponent("vgg16-seed.reference.json").path)
                   && FileManager.default.fileExists(atPath: patches.appendingPathComponent("train_labels.csv").path),
                   "the Keras VGG16 is not in .data/keras (made by .ci/run with tensorflow-cpu and tf2onnx; see Scripts/make_keras_vgg16.py)"))
    func kerasVGG16ThroughTf2onnx() throws {
        try Self.compare(Self.keras.appendingPathComponent("vgg16-seed.onnx"), reference: Self.keras.appendingPathComponent("vgg16-seed.reference.json"),
                         normalization: "0,1", classes: 1)
        // It is sequential, so it converts to a built-in vgg16-like network (for fine-tuning)
        // with the same outputs: the NHWC Transpose before the Flatten needs no reordering.
        let settings = ImportSettings(micronsPerPixel: 0.972, normalization: ImportSettings.normalization("0,1")!)
        let bundle = try ModelBundle.importONNX(Self.keras.appendingPathComponent("vgg16-seed.onnx"), settings: settings)
        let (spec, weights) = try SequentialConversion.convert(bundle.manifest.graph!, weights: bundle.graphWeights, name: "seed")
        let network = try Network<Float>(spec: spec)
        try network.loadWeights(weights)
        var g = SplitMix64(seed: 9)
        let input = (0..<(4 * 96 * 96 * 3)).map { _ in Float.random(in: 0...1, using: &g) }
        let a = try input.withUnsafeBufferPointer { try bundle.graphClassifier!.probabilities($0.baseAddress!, count: 4) }
        #expect(bundle.convertedNetwork != nil && bundle.classifier() is InferenceEngine, "screening runs it on the built-in engine")
        let b = input.withUnsafeBufferPointer { InferenceEngine(network: network).probabilities($0.baseAddress!, count: 4) }
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-4, "\(x) vs \(y)") }
    }

    static func compare(_ model: URL, reference url: URL, normalization: String, classes: Int) throws {
        let architecture = model.deletingPathExtension().lastPathComponent
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let settings = ImportSettings(micronsPerPixel: 0.972, normalization: ImportSettings.normalization(normalization)!)
        let bundle = try ModelBundle.importONNX(model, settings: settings)
        let classifier = try #require(bundle.graphClassifier)
        let augmenter = PatchAugmenter(normalization: bundle.manifest.normalization, augment: false)
        var pixels: [UInt8] = []
        for id in reference.ids {
            let slide = try openSlide(at: patches.appendingPathComponent("train/\(id).tif"))
            pixels += try slide.readRegion(originLevel0: PixelPoint(x: 0, y: 0), level: 0, sizeAtLevel: PixelSize(width: 96, height: 96)).pixels
        }
        var worst = 0.0
        let batch = 32, plane = 96 * 96 * 3
        for start in stride(from: 0, to: reference.ids.count, by: batch) {
            let n = min(batch, reference.ids.count - start)
            var input = [Float](repeating: 0, count: n * plane)
            input.withUnsafeMutableBufferPointer { dst in
                pixels.withUnsafeBufferPointer { augmenter.normalize(dst.baseAddress!, from: $0.baseAddress! + start * plane, count: n) }
            }
            let all = try input.withUnsafeBufferPointer { try classifier.classProbabilities($0.baseAddress!, count: n) }
            for i in 0..<n {
                for j in 0..<classes {
                    // A one-output model's reference lists [1 − p, p].
                    let expected = classes == 1 ? reference.probabilities[start + i][1] : reference.probabilities[start + i][j]
                    worst = max(worst, abs(Double(all[i * classes + j]) - expected))
                }
            }
        }
        #expect(worst <= 1e-4, "\(architecture): worst difference from onnxruntime \(worst)")
    }
}
