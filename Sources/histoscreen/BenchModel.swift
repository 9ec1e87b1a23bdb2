import ArgumentParser
import Foundation
import Neural

/// `histoscreen bench-model MODEL`: inference throughput of one model as screening runs it
/// (a bundle, or an ONNX file with the import options), for comparison with a peer such as
/// onnxruntime measured on the same machine.
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-model",
        abstract: "Measure a model's inference throughput (patches/s, median and range over --repeats).",
        discussion: "Random normalised patches in batches of --batch; one warm-up batch first. Build with -c release."
    )

    @Argument(help: "A model bundle or an ONNX file.") var model: String
    @OptionGroup var onnx: ONNXOptions
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Timed repeats (after one warm-up).") var repeats = 5
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @Flag(help: "Print JSON to stdout.") var json = false

    func validate() throws {
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be between 1 and 4096") }
        guard (1...1000).contains(repeats) else { throw ValidationError("--repeats must be between 1 and 1000") }
    }

    func run() throws {
        if let threads { Threading.threadCount = threads }
        let url = URL(fileURLWithPath: model)
        let bundle: ModelBundle
        do {
            bundle = url.pathExtension.lowercased() == "onnx"
                ? try ModelBundle.importONNX(url, settings: try onnx.settings(for: model))
                : try ModelBundle.load(from: url)
        } catch let error as ModelBundleError {
            printError(error.description); throw ExitCode(1)
        }
        let side = bundle.manifest.architecture.inputShape[0]
        var g = SplitMix64(seed: 1)
        let input = (0..<(batch * side * side * 3)).map { _ in Float.random(in: -2...2, using: &g) }
        let classifier = bundle.classifier()
        func once() throws -> Double {
            let t = Date()
            _ = try input.withUnsafeBufferPointer { try classifier.probabilities($0.baseAddress!, count: batch) }
            return Date().timeIntervalSince(t)
        }
        _ = try once()
        let rates = try (0..<repeats).map { _ in Double(batch) / (try once()) }.sorted()
        let median = rates[rates.count / 2]
        if json {
            struct Report: Encodable { var model: String; var input: Int; var batch: Int; var threads: Int; var cpu: String; var patchesPerSecond: [Double]; var median: Double }
            print(try encodeJSON(Report(model: model, input: side, batch: batch, threads: Threading.threadCount, cpu: KernelSet.cpuName,
                                        patchesPerSecond: rates, median: median)))
        } else {
            print(String(format: "%@: %d px, batch %d, %d threads on %@: %.1f patches/s (range %.1f–%.1f over %d repeats)",
                         model, side, batch, Threading.threadCount, KernelSet.cpuName, median, rates.first!, rates.last!, repeats))
        }
    }
}
