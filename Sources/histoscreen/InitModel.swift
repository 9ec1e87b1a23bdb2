import ArgumentParser
import Foundation
import Neural

/// `histoscreen init-model --arch compact --out NAME.hsmodel`: an untrained bundle.
struct InitModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-model",
        abstract: "Write an untrained model bundle (seeded He-normal weights), e.g. for benchmarks or export.",
        discussion: "The bundle's model.json holds the architecture as data; its weights.safetensors opens with Python's safetensors package."
    )

    @Option(help: "Architecture: \(ModelSpec.builtinNames.joined(separator: ", ")).") var arch = "compact"
    @Option(help: "The bundle to write (NAME.hsmodel).") var out: String
    @Option(help: "Seed of the initial weights.") var seed: UInt64 = 0
    @Option(help: "µm per pixel the model is meant for.") var mpp = 0.972

    func run() throws {
        guard let spec = ModelSpec.builtin(arch) else {
            throw ValidationError("unknown architecture '\(arch)'; choose from \(ModelSpec.builtinNames.joined(separator: ", "))")
        }
        let network = try Network<Float>(spec: spec, seed: seed)
        let manifest = ModelManifest(name: URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent, architecture: spec,
                                     micronsPerPixel: mpp, normalization: .unit, threshold: 0.5,
                                     training: .object(["untrained": .bool(true), "seed": .number(Double(seed))]))
        do {
            try ModelBundle(manifest: manifest, network: network).save(to: URL(fileURLWithPath: out))
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        print("wrote \(out): \(spec.name), \(network.parameterCount()) parameters, \(String(format: "%.3f", Double(network.flopsPerSample) / 1e9)) GFLOP per patch")
    }
}
