import Foundation

/// How pixels become network input: `x = (pixel / 255 − mean[c]) / std[c]`, channels RGB.
public struct InputNormalization: Sendable, Equatable, Codable {
    public var mean: [Double]
    public var std: [Double]
    public init(mean: [Double], std: [Double]) { self.mean = mean; self.std = std }
    /// Pixels scaled to [0, 1] and centred at 0.5.
    public static let unit = InputNormalization(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
}

/// model.json: everything about a model except its weights.
public struct ModelManifest: Sendable, Equatable, Codable {
    public static let formatName = "histoscreen-model"
    /// 1: a sequential network (`architecture`). 2: an imported graph (`graph`); a reader of
    /// version 1 alone must not mistake it for an empty network.
    public static let currentFormatVersion = 1
    public static let graphFormatVersion = 2

    public var format: String = formatName
    public var formatVersion: Int = currentFormatVersion
    public var name: String
    public var architecture: ModelSpec
    /// Activations are NHWC; conv kernels HWIO `[KH, KW, Cin, Cout]`; dense kernels `[in, out]`.
    public var layout: String = "NHWC; conv kernel [KH, KW, Cin, Cout]; dense kernel [in, out]"
    /// µm per pixel of the patches the model was trained on (PCam: about 0.972).
    public var micronsPerPixel: Double
    public var normalization: InputNormalization
    /// How pixels become input, in words (absent in bundles made before it was recorded).
    public var pixelScaling: String? = "RGB; pixels / 255, then (x - mean) / std per channel"
    /// The output is σ(logit), the probability of tumour in the centre 32×32 pixels.
    public var output: String = "sigmoid: probability of tumour in the centre 32x32 px (PCam label 1)"
    /// Probabilities at or above it are called positive. Chosen on validation data.
    public var threshold: Double
    /// Data, split, seed, settings and time of training, when known.
    public var training: JSONValue?
    /// Validation and test metrics, when known.
    public var metrics: JSONValue?
    /// Named decision thresholds chosen on validation data (`balanced`, `screening`); `threshold`
    /// is the default one's. Absent in bundles made before operating points existed.
    public var operatingPoints: OperatingPoints?
    /// How the output was calibrated, when it was (temperature scaling folded into the last layer).
    public var calibration: JSONValue?
    /// An imported network as a graph of ONNX operators (format version 2); `architecture`
    /// then only records the input shape.
    public var graph: GraphModel?
    /// How the graph's output becomes probabilities.
    public var outputActivation: OutputActivation?
    /// Class names in output order, and the one screening counts as tumour.
    public var classes: [String]?
    public var positiveClass: String?

    public init(name: String, architecture: ModelSpec, micronsPerPixel: Double, normalization: InputNormalization,
                threshold: Double, training: JSONValue? = nil, metrics: JSONValue? = nil) {
        self.name = name
        self.architecture = architecture
        self.micronsPerPixel = micronsPerPixel
        self.normalization = normalization
        self.threshold = threshold
        self.training = training
        self.metrics = metrics
    }
}

/// The decision thresholds a bundle carries, each chosen on validation data.
public struct OperatingPoints: Sendable, Equatable, Codable {
    /// Youden's J: sensitivity + specificity − 1 at its largest.
    public var balanced: Double
    /// The highest threshold whose validation sensitivity is at least `screeningSensitivity`.
    public var screening: Double
    public var screeningSensitivity: Double
    /// "balanced" or "screening": the one `threshold` holds and `screen` uses unless told.
    public var defaultPoint: String
    /// What they were chosen on (datasets and patch count).
    public var chosenOn: String

    public init(balanced: Double, screening: Double, screeningSensitivity: Double, defaultPoint: String, chosenOn: String) {
        self.balanced = balanced
        self.screening = screening
        self.screeningSensitivity = screeningSensitivity
        self.defaultPoint = defaultPoint
        self.chosenOn = chosenOn
    }

    public static let names = ["balanced", "screening"]

    public func threshold(_ name: String) -> Double? {
        switch name {
        case "balanced": balanced
        case "screening": screening
        default: nil
        }
    }
}

extension ModelManifest {
    /// The threshold of a named operating point, or the bundle's default when `name` is nil.
    public func threshold(operatingPoint name: String?) throws(ModelBundleError) -> Double {
        guard let name else { return threshold }
        guard OperatingPoints.names.contains(name) else {
            throw ModelBundleError(path: "--operating-point", problem: "'\(name)' is not an operating point",
                                   hint: "use \(OperatingPoints.names.joined(separator: " or "))")
        }
        guard let points = operatingPoints, let t = points.threshold(name) else {
            throw ModelBundleError(path: self.name, problem: "the model carries no operating points, only a threshold of \(threshold)",
                                   hint: "run `histoscreen calibrate` on it with validation data, or give --threshold")
        }
        return t
    }
}

/// An error about one file or folder, printed as "PATH: PROBLEM" and, when there is one, a
/// second line "HINT: …" that says what to do. The CLI prints it as it is and exits non-zero.
public protocol FileProblem: Error, CustomStringConvertible {
    var path: String { get }
    var problem: String { get }
    var hint: String? { get }
}

extension FileProblem {
    public var description: String { "\(path): \(problem)" + (hint.map { "\nHINT: \($0)" } ?? "") }
}

/// Why a model bundle could not be loaded or saved. Messages name the bundle.
public struct ModelBundleError: FileProblem, Equatable {
    public var path: String
    public var problem: String
    public var hint: String?
    public init(path: String, problem: String, hint: String? = nil) {
        self.path = path
        self.problem = problem
        self.hint = hint
    }
}

/// A model bundle: a folder `NAME.hsmodel/` with `model.json` (a `ModelManifest`) and
/// `weights.safetensors` (every tensor of the network, Float32).
public struct ModelBundle {
    public var manifest: ModelManifest
    /// The sequential network; for an imported graph, an empty one (use `classifier()`).
    public let network: Network<Float>
    /// The imported graph and its weights, for format-version-2 bundles.
    public let graph: GraphEngine?
    public let graphWeights: [String: Tensor<Float>]
    /// The imported graph as the graph engine runs it.
    public let graphClassifier: GraphClassifier?
    /// A one-output graph that is a chain of built-in layers, converted to a built-in network:
    /// screening runs it on the built-in engine's kernels, which the graph engine lacks.
    public let convertedNetwork: Network<Float>?

    public init(manifest: ModelManifest, network: Network<Float>) {
        self.manifest = manifest
        self.network = network
        self.graph = nil
        self.graphWeights = [:]
        self.graphClassifier = nil
        self.convertedNetwork = nil
    }

    /// A bundle for an imported graph.
    public init(manifest: ModelManifest, graph: GraphModel, weights: [String: Tensor<Float>]) throws(ModelBundleError) {
        var manifest = manifest
        manifest.graph = graph
        manifest.formatVersion = ModelManifest.graphFormatVersion
        self.manifest = manifest
        let classes = manifest.classes ?? []
        let positive = manifest.positiveClass.flatMap { classes.firstIndex(of: $0) } ?? (classes.count == 2 ? 1 : 0)
        if let name = manifest.positiveClass, !classes.contains(name) {
            throw ModelBundleError(path: manifest.name, problem: "positive class '\(name)' is not one of the classes \(classes)")
        }
        do {
            self.network = try Network<Float>(spec: Self.placeholderSpec(manifest.architecture.inputShape))
            let engine = try GraphEngine(graph: graph, weights: weights)
            self.graph = engine
            self.graphClassifier = try GraphClassifier(engine: engine, activation: manifest.outputActivation ?? .none, positiveIndex: positive)
            if !classes.isEmpty, classes.count != graphClassifier!.classCount {
                throw GraphError("\(classes.count) class names for \(graphClassifier!.classCount) outputs")
            }
        } catch let error as GraphError {
            throw ModelBundleError(path: manifest.name, problem: "the graph cannot run: \(error.problem)")
        } catch {
            throw ModelBundleError(path: manifest.name, problem: "\(error)")
        }
        self.graphWeights = weights
        convertedNetwork = graphClassifier!.classCount == 1 ? Self.converted(graph, weights, name: manifest.name) : nil
    }

    /// The graph as a built-in network, when it is a chain of built-in layers.
    static func converted(_ graph: GraphModel, _ weights: [String: Tensor<Float>], name: String) -> Network<Float>? {
        guard let (spec, converted) = try? SequentialConversion.convert(graph, weights: weights, name: name),
              let network = try? Network<Float>(spec: spec), (try? network.loadWeights(converted)) != nil else { return nil }
        return network
    }

    /// The same model counting another of its classes as tumour.
    public func withPositiveClass(_ name: String) throws(ModelBundleError) -> ModelBundle {
        let classes = manifest.classes ?? ["tumour"]
        guard classes.contains(name) else {
            throw ModelBundleError(path: manifest.name, problem: "--positive \(name) is not one of its classes (\(classes.joined(separator: ", ")))")
        }
        guard let graph = manifest.graph, name != manifest.positiveClass else { return self }
        var m = manifest
        m.positiveClass = name
        return try ModelBundle(manifest: m, graph: graph, weights: graphWeights)
    }

    /// The stand-in `network` of a graph bundle (a pool and one unit; never run): code that
    /// needs a sequential network checks `graph` first.
    static func placeholderSpec(_ inputShape: [Int]) -> ModelSpec {
        ModelSpec(name: "graph-placeholder", inputShape: inputShape, layers: [.globalAveragePool("pool"), .dense("unit", 1)])
    }

    /// The model as screening runs it: probability of the positive class per patch. (A graph's
    /// classifier was built, and checked, when the bundle was.)
    public func classifier() -> any PatchClassifier {
        if let convertedNetwork { return InferenceEngine(network: convertedNetwork) }
        return graphClassifier ?? Self.classifier(for: network)
    }

    /// A built-in network as screening runs it. The built-in engine compiles chains only; a
    /// network with residual blocks runs as its graph (which ends in Sigmoid) on the graph
    /// engine's kernels, rather than layer by layer. Should the graph not build, the
    /// network's own forward pass still gives the answer.
    public static func classifier(for network: Network<Float>) -> any PatchClassifier {
        if network.layers.contains(where: { $0 is Residual<Float> }),
           let (graph, weights) = try? ONNXExport.graph(of: network),
           let engine = try? GraphEngine(graph: graph, weights: weights),
           let classifier = try? GraphClassifier(engine: engine, activation: .none, positiveIndex: 0) {
            return classifier
        }
        return InferenceEngine(network: network)
    }

    /// Loads and validates a bundle.
    public static func load(from url: URL) throws(ModelBundleError) -> ModelBundle {
        let path = url.relativePath
        func fail(_ problem: String, hint: String? = nil) -> ModelBundleError {
            ModelBundleError(path: path, problem: problem, hint: hint)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw fail("no such model bundle", hint: "a bundle is a folder NAME.hsmodel holding model.json and weights.safetensors")
        }
        guard isDirectory.boolValue else { throw fail("a model bundle is a folder, not a file") }
        guard let json = FileManager.default.contents(atPath: url.appendingPathComponent("model.json").path) else {
            throw fail("model.json is missing")
        }
        // Check the format and version before decoding the rest, so a newer bundle gets a clear message.
        struct Header: Decodable { var format: String?; var formatVersion: Int? }
        guard let header = try? JSONDecoder().decode(Header.self, from: json) else {
            throw fail("model.json is not valid JSON")
        }
        guard header.format == ModelManifest.formatName else {
            throw fail("model.json is not a HistoScreen model (format \(header.format.map { "'\($0)'" } ?? "missing"))")
        }
        guard header.formatVersion == ModelManifest.currentFormatVersion || header.formatVersion == ModelManifest.graphFormatVersion else {
            throw fail("model.json has format version \(header.formatVersion.map(String.init) ?? "missing"); "
                       + "this histoscreen reads versions \(ModelManifest.currentFormatVersion) and \(ModelManifest.graphFormatVersion)",
                       hint: "use the histoscreen release that wrote the bundle, or retrain")
        }
        let manifest: ModelManifest
        do {
            manifest = try JSONDecoder().decode(ModelManifest.self, from: json)
        } catch {
            throw fail("model.json is malformed: \(Self.describe(error))")
        }
        guard manifest.threshold > 0, manifest.threshold < 1, manifest.micronsPerPixel > 0,
              manifest.normalization.mean.count == manifest.architecture.inputShape.last,
              manifest.normalization.std.count == manifest.architecture.inputShape.last,
              manifest.normalization.std.allSatisfy({ $0 > 0 }) else {
            throw fail("model.json has an invalid threshold, µm per pixel or normalisation")
        }
        if let points = manifest.operatingPoints {
            guard [points.balanced, points.screening].allSatisfy({ $0 > 0 && $0 < 1 }),
                  OperatingPoints.names.contains(points.defaultPoint) else {
                throw fail("model.json has invalid operating points (thresholds must lie in (0, 1); default balanced or screening)")
            }
        }
        let input = manifest.architecture.inputShape
        guard input.count == 3, input[0] == input[1], input[0] >= 2, input[0] % 2 == 0, input[2] == 3 else {
            throw fail("model.json: input shape \(input) is not a square RGB patch of even side (screening centres its cells in the patch)")
        }
        guard (manifest.graph != nil) == (header.formatVersion == ModelManifest.graphFormatVersion) else {
            throw fail("model.json: format version \(header.formatVersion!) \(manifest.graph == nil ? "needs" : "cannot have") a graph")
        }
        let network: Network<Float>
        do {
            network = try Network<Float>(spec: manifest.graph == nil ? manifest.architecture : Self.placeholderSpec(manifest.architecture.inputShape))
        } catch {
            throw fail("model.json architecture: \(error.message)")
        }
        let weightsURL = url.appendingPathComponent("weights.safetensors")
        guard let bytes = FileManager.default.contents(atPath: weightsURL.path) else {
            throw fail("weights.safetensors is missing")
        }
        let tensors: [String: Tensor<Float>]
        do {
            tensors = try Safetensors.decode([UInt8](bytes), path: weightsURL.relativePath, as: Float.self).tensors
        } catch {
            throw ModelBundleError(path: path, problem: error.description, hint: nil)
        }
        for (name, tensor) in tensors where !tensor.data.allSatisfy(\.isFinite) {
            throw fail("weights.safetensors: tensor '\(name)' holds NaN or Inf values", hint: "the training run that wrote it diverged")
        }
        for (name, tensor) in tensors where name.hasSuffix(".moving_variance") {
            if let bad = tensor.data.first(where: { $0 < 0 }) {
                throw fail("weights.safetensors: batch-norm variance '\(name)' holds \(bad); a variance cannot be negative")
            }
        }
        if let graph = manifest.graph {
            guard graph.formatVersion == GraphModel.currentFormatVersion else {
                throw fail("model.json: graph format version \(graph.formatVersion); this histoscreen reads \(GraphModel.currentFormatVersion)")
            }
            do {
                return try ModelBundle(manifest: manifest, graph: graph, weights: tensors)
            } catch {
                throw fail(error.problem)
            }
        }
        do {
            try network.loadWeights(tensors)
        } catch {
            throw fail("weights.safetensors does not match the architecture: \(error.message)")
        }
        return ModelBundle(manifest: manifest, network: network)
    }

    /// Writes the bundle folder; each file is written atomically.
    public func save(to url: URL) throws(ModelBundleError) {
        let path = url.relativePath
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let json = try encoder.encode(manifest)
            // Sequential networks keep Keras names and layouts (HWIO kernels); graphs keep their
            // ONNX names and PyTorch layouts (OIHW).
            let weights = graph == nil
                ? Safetensors.encode(network.weights(), metadata: ["format": "histoscreen-keras", "histoscreen-model": manifest.name])
                : Safetensors.encode(graphWeights, metadata: ["format": "onnx", "histoscreen-model": manifest.name])
            try Data(weights).write(to: url.appendingPathComponent("weights.safetensors"), options: .atomic)
            try json.write(to: url.appendingPathComponent("model.json"), options: .atomic)
        } catch {
            throw ModelBundleError(path: path, problem: "cannot write the bundle: \(Self.describe(error))", hint: nil)
        }
    }

    private static func describe(_ error: Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case let .keyNotFound(key, context):
                return "missing '\(key.stringValue)' at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
            case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
                return "\(context.debugDescription) at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
            @unknown default:
                return "\(decoding)"
            }
        }
        return (error as NSError).localizedDescription
    }
}
