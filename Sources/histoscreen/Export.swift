import ArgumentParser
import Foundation
import Imaging
import Neural

/// `histoscreen export NAME.hsmodel --onnx OUT.onnx`.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a model bundle as ONNX (opset 13 for built-in networks; imported graphs keep theirs).",
        discussion: """
            Built-in networks become NCHW graphs of Conv, BatchNormalization, Relu, MaxPool, GlobalAveragePool, \
            Flatten and Gemm with PyTorch's tensor names and layouts, ending in Sigmoid (the output is the \
            probability). The model takes normalised input, as in the bundle: x = (pixel / 255 − mean) / std, with \
            the mean and std recorded in the file's metadata with the µm per pixel, classes and threshold.
            """
    )

    @Argument(help: "The model bundle (NAME.hsmodel).") var model: String
    @Option(help: "The ONNX file to write.") var onnx: String

    func run() throws {
        do {
            let bundle = try ModelBundle.load(from: URL(fileURLWithPath: model))
            let bytes = try ONNXExport.encode(bundle, producerVersion: histoScreenVersion)
            try AtomicFile.write(bytes, to: URL(fileURLWithPath: onnx))
            print("\(model) → \(onnx): \(bytes.count) bytes")
        } catch let error as ModelBundleError {
            printError(error.description); throw ExitCode(1)
        } catch let error as GraphError {
            printError("\(model): \(error.problem)"); throw ExitCode(1)
        } catch {
            printError("\(onnx): cannot write: \(error)"); throw ExitCode(1)
        }
    }
}
