import ArgumentParser

/// The tool's version, written into every output that records provenance.
let histoScreenVersion = "0.1.0"

@main
struct HistoScreen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "histoscreen",
        abstract: "Screen whole-slide histology images for tumour.",
        version: histoScreenVersion,
        subcommands: [Screen.self, TriageCommand.self, WorklistCommand.self, Info.self, Split.self, Train.self, Evaluate.self, InitModel.self, Bench.self, MakeSlide.self]
    )
}
