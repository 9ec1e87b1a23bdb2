import ArgumentParser
import Foundation
import Neural

/// `histoscreen ensemble A.hsmodel B.hsmodel --out E.hsmodel`: one bundle that averages models.
struct EnsembleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensemble",
        abstract: "Combine built-in models into one bundle that averages their logits.",
        discussion: """
            The members must take the same patches (shape, normalisation, µm per pixel), as models trained on \
            the same data with different seeds do. The bundle holds them side by side in one network, so \
            screening runs them in one pass, at the sum of their costs. It has no operating points yet: \
            run `histoscreen calibrate` on validation data next.
            """
    )

    @Argument(help: "The member bundles (NAME.hsmodel), two to nine.") var models: [String]
    @Option(help: "The bundle to write (NAME.hsmodel).") var out: String

    func validate() throws {
        guard (2...9).contains(models.count) else {
            throw ValidationError("give two to nine model bundles, not \(models.count)")
        }
    }

    func run() throws {
        do throws(ModelBundleError) {
            var members: [(path: String, bundle: ModelBundle)] = []
            for path in models { members.append((path, try ModelBundle.load(from: URL(fileURLWithPath: path)))) }
            let name = URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent
            let bundle = try ModelBundle.ensemble(members, name: name)
            try bundle.save(to: URL(fileURLWithPath: out))
            let gflop = Double(bundle.network.flopsPerSample) / 1e9
            print("wrote \(out): mean logit of \(members.count) models, \(bundle.network.parameterCount()) parameters, "
                  + "\(String(format: "%.3f", gflop)) GFLOP per patch; calibrate it next")
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}
