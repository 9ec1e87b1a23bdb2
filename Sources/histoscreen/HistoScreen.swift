import ArgumentParser
import Foundation
import Neural

/// The tool's version, written into every output that records provenance.
let histoScreenVersion = "0.1.0"

@main
struct HistoScreen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "histoscreen",
        abstract: "Screen whole-slide histology images for tumour.",
        version: "\(histoScreenVersion)\nkernels: \(KernelSet.activeDescription)\nCPU: \(KernelSet.cpuName)",
        subcommands: [Screen.self, TriageCommand.self, WorklistCommand.self, Info.self, Split.self, Train.self, Calibrate.self, Evaluate.self, EvaluateSlide.self, Import.self, Export.self, EnsembleCommand.self, InitModel.self, Bench.self, BenchModel.self, MakeSlide.self]
    )

    /// Refuses to run on a kernel set other than the one HISTOSCREEN_ISA asked for.
    static func main() {
        if let problem = KernelSet.requestProblem {
            let hint = "HINT: this CPU (\(KernelSet.cpuName)) runs \(KernelSet.supported.map(\.name).joined(separator: ", ")); "
                + "unset HISTOSCREEN_ISA to use the best of them"
            FileHandle.standardError.write(Data("histoscreen: error: \(problem)\n\(hint)\n".utf8))
            Foundation.exit(1)
        }
        main(nil)
    }
}
