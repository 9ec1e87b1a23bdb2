import ArgumentParser
import Foundation
import Imaging
import Neural

/// The options that describe an ONNX model's input and output, shared by `import` and by
/// `screen`/`triage` when --model is a .onnx file.
struct ONNXOptions: ParsableArguments {
    @Option(name: .customLong("model-mpp"), parsing: .unconditional,
            help: "µm per pixel of the patches the ONNX model was trained on (PatchCamelyon: 0.972).")
    var modelMPP: Double?

    @Option(help: "How pixels were normalised for the ONNX model: imagenet, pcam, MEAN,STD, or three means and three stds (pixels scaled to 0–1 first).")
    var normalization: String?

    @Option(parsing: .unconditional, help: "Input side in pixels, for an ONNX model exported with a free height and width.")
    var input: Int?

    @Option(help: "Class names in output order, comma-separated (default: tumour for one output; normal,tumour for two).")
    var classes: String?

    @Option(help: "The class screening counts as tumour (default: the last of two).")
    var positive: String?

    func settings(for path: String) throws -> ImportSettings {
        guard let modelMPP else {
            throw ValidationError("\(path) is an ONNX model: give the µm per pixel it was trained at with --model-mpp (PatchCamelyon: 0.972)")
        }
        guard let text = normalization else {
            throw ValidationError("\(path) is an ONNX model: give its input normalisation with --normalization (imagenet, pcam, MEAN,STD)")
        }
        guard let normalization = ImportSettings.normalization(text) else {
            throw ValidationError("--normalization \(text) is not imagenet, pcam, MEAN,STD or three means and three positive stds")
        }
        if let input, !(2...4096).contains(input) || input % 2 != 0 { throw ValidationError("--input must be an even size between 2 and 4096") }
        var settings = ImportSettings(micronsPerPixel: modelMPP, normalization: normalization)
        settings.inputSize = input
        settings.classes = classes.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        settings.positiveClass = positive
        return settings
    }
}

/// `histoscreen import MODEL.onnx --out NAME.hsmodel --model-mpp M --normalization N`.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an ONNX model (opset 11 or later) as a model bundle.",
        discussion: """
            The graph is kept as data in model.json (nodes, inputs, outputs, attributes) with the input size, µm per \
            pixel, normalisation, class names and the positive class; the weights go into weights.safetensors under \
            their ONNX names and layouts. HistoScreen runs Conv (any kernel, stride, padding, dilation and groups), \
            BatchNormalization, Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Add, Mul, Concat, MaxPool, \
            AveragePool, GlobalAveragePool, Gemm, MatMul, Flatten, Reshape, Softmax, Dropout, Identity and Constant; \
            anything else is refused, naming the operator and node. The threshold is 0.5 until `histoscreen \
            calibrate` chooses one on validation data.
            """
    )

    @Argument(help: "The ONNX file.", completion: .file(extensions: ["onnx"])) var model: String
    @Option(help: "The bundle to write (NAME.hsmodel).") var out: String
    @OptionGroup var onnx: ONNXOptions
    @Option(help: "The bundle's name (default: the file's).") var name: String?
    @Option(parsing: .unconditional, help: "Decision threshold (0–1).") var threshold = 0.5
    @Flag(help: "Print the bundle's model.json.") var json = false

    func validate() throws {
        guard threshold > 0 && threshold < 1 else { throw ValidationError("--threshold must be between 0 and 1") }
    }

    func run() throws {
        var settings = try onnx.settings(for: model)
        settings.name = name
        settings.threshold = threshold
        do {
            var bundle = try ModelBundle.importONNX(URL(fileURLWithPath: model), settings: settings)
            if case var .object(training)? = bundle.manifest.training, let hash = SHA256.hex(fileAt: URL(fileURLWithPath: model)) {
                training["sha256"] = .string(hash)
                bundle.manifest.training = .object(training)
            }
            try bundle.save(to: URL(fileURLWithPath: out))
            let classes = bundle.manifest.classes ?? []
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(bundle.manifest), as: UTF8.self))
            } else {
                let graph = bundle.manifest.graph!
                print("\(model) → \(out): \(graph.nodes.count) nodes, \(graph.initializers.count) weight tensors "
                      + "(\(bundle.graphWeights.values.reduce(0) { $0 + $1.count }) values), input \(graph.inputShape[1]) × \(graph.inputShape[2]) px "
                      + "at \(settings.micronsPerPixel) µm/px, classes \(classes.joined(separator: ", ")), positive \(bundle.manifest.positiveClass ?? "")")
            }
        } catch let error as ModelBundleError {
            printError(error.description); throw ExitCode(1)
        }
    }
}
