import Foundation

/// What `histoscreen import` (and a `.onnx` given as --model) needs besides the file.
public struct ImportSettings: Sendable {
    /// µm per pixel of the patches the model was trained on.
    public var micronsPerPixel: Double
    public var normalization: InputNormalization
    /// A free input size (models exported with a dynamic height and width).
    public var inputSize: Int?
    public var classes: [String]?
    public var positiveClass: String?
    public var threshold: Double = 0.5
    public var name: String?

    public init(micronsPerPixel: Double, normalization: InputNormalization) {
        self.micronsPerPixel = micronsPerPixel
        self.normalization = normalization
    }

    /// `imagenet`, `pcam` (the PatchCamelyon training set's statistics, which the bundled model
    /// uses), `MEAN,STD` for every channel, or three means and three stds.
    public static func normalization(_ text: String) -> InputNormalization? {
        switch text.lowercased() {
        case "imagenet": return InputNormalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        case "pcam": return InputNormalization(mean: [0.6987186915950694, 0.5408117805113183, 0.691961109147494],
                                                std: [0.23824072632801963, 0.28072939639790395, 0.22115356326719351])
        default:
            let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard values.allSatisfy({ $0 != nil && $0!.isFinite }) else { return nil }
            let v = values.map { $0! }
            switch v.count {
            case 2 where v[1] > 0: return InputNormalization(mean: [v[0], v[0], v[0]], std: [v[1], v[1], v[1]])
            case 6 where v[3...].allSatisfy({ $0 > 0 }): return InputNormalization(mean: Array(v[0..<3]), std: Array(v[3..<6]))
            default: return nil
            }
        }
    }
}

extension ModelBundle {
    /// Imports an ONNX model as a bundle (in memory; `save(to:)` writes it).
    public static func importONNX(_ url: URL, settings: ImportSettings) throws(ModelBundleError) -> ModelBundle {
        let path = url.relativePath
        func fail(_ problem: String, hint: String? = nil) -> ModelBundleError { ModelBundleError(path: path, problem: problem, hint: hint) }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw fail("cannot be read (no such file, or not readable)") }
        let graph: GraphModel, weights: [String: Tensor<Float>]
        do {
            (graph, weights) = try ONNXImport.read(Array(data), path: path, inputSize: settings.inputSize)
        } catch {
            throw ModelBundleError(path: error.path, problem: error.problem)
        }
        let side = graph.inputShape[1]
        guard graph.inputShape[1] == graph.inputShape[2], side >= 2, side % 2 == 0 else {
            throw fail("the input is \(graph.inputShape[1]) × \(graph.inputShape[2]); screening needs a square patch of even side",
                       hint: "re-export with a square input, or give --input N for a model with a free size")
        }
        guard settings.micronsPerPixel > 0.05 && settings.micronsPerPixel < 20 else {
            throw fail("--mpp \(settings.micronsPerPixel) is not a plausible patch resolution (0.05–20 µm per pixel)")
        }
        // Probabilities: a graph that ends in Sigmoid or Softmax already gives them.
        let last = graph.nodes.last { $0.outputs.contains(graph.outputName) }?.op
        let probe: GraphEngine
        do { probe = try GraphEngine(graph: graph, weights: weights) } catch { throw fail("the graph cannot run: \(error.problem)") }
        let count: Int
        do { count = try probe.scoreCount() } catch { throw fail(error.problem) }
        let activation: OutputActivation = last == "Sigmoid" || last == "Softmax" ? .none : (count == 1 ? .sigmoid : .softmax)
        let classes = settings.classes ?? (count == 1 ? ["tumour"] : count == 2 ? ["normal", "tumour"] : nil)
        guard let classes else {
            throw fail("the model gives \(count) class scores; name them with --classes a,b,… and the tumour class with --positive")
        }
        guard classes.count == count else { throw fail("--classes names \(classes.count) classes for \(count) outputs") }
        guard Set(classes).count == classes.count, classes.allSatisfy({ !$0.isEmpty }) else { throw fail("--classes has empty or repeated names") }
        let positive = settings.positiveClass ?? (count <= 2 ? classes.last! : nil)
        guard let positive else { throw fail("with \(count) classes, say which one screening counts with --positive CLASS") }
        guard classes.contains(positive) else { throw fail("--positive \(positive) is not one of \(classes.joined(separator: ", "))") }
        let name = settings.name ?? url.deletingPathExtension().lastPathComponent
        var manifest = ModelManifest(name: name, architecture: ModelSpec(name: "onnx-graph", inputShape: [side, side, 3], layers: []),
                                     micronsPerPixel: settings.micronsPerPixel, normalization: settings.normalization,
                                     threshold: settings.threshold,
                                     training: .object(["importedFrom": .string(path), "source": .string(graph.source),
                                                        "bytes": .number(Double(data.count))]))
        manifest.layout = "NCHW; ONNX names and layouts (conv kernels [Cout, Cin/groups, KH, KW], as PyTorch)"
        manifest.output = "\(activation == .none ? "the graph's own" : activation.rawValue) probabilities over \(classes.joined(separator: ", ")); "
            + "screening counts \(positive)"
        manifest.outputActivation = activation
        manifest.classes = classes
        manifest.positiveClass = positive
        return try ModelBundle(manifest: manifest, graph: graph, weights: weights)
    }
}
