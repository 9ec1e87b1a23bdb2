import ArgumentParser
import Foundation
import Imaging
import Training

/// `histoscreen split DATASET --out split.csv`: a deterministic, stratified train/val/test split.
struct Split: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Split a labelled patch dataset into train, validation and test subsets.",
        discussion: """
            The split is stratified by label, deterministic for a given --seed, and loses no row: every patch \
            is listed once in the output CSV (id,label,subset). It never moves, renames or deletes files. \
            With --by-group, whole slides or patients (a slide, patient or group column in the dataset's CSV) \
            are kept in one subset.
            """
    )

    @Argument(help: "A Kaggle folder (<id>.tif + id,label CSV), a folder with pos/ and neg/, or a path,label CSV.")
    var dataset: String

    @Option(help: "The split CSV to write.")
    var out: String

    @Option(help: "Train, validation and test fractions.")
    var ratios = "0.7,0.2,0.1"

    @Option(help: "Seed of the shuffle.")
    var seed: UInt64 = 0

    @Flag(help: "Keep each slide/patient group in one subset.")
    var byGroup = false

    @Flag(help: "Go on when listed files are missing (they are counted).")
    var skipMissing = false

    @Flag(help: "Print the counts as JSON.")
    var json = false

    func run() throws {
        let values = ratios.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        do {
            let data = try PatchDataset.open(dataset, skipMissing: skipMissing)
            let split = try DatasetSplit.make(data, ratios: values, seed: seed, byGroup: byGroup)
            try AtomicFile.write(text: split.csv(for: data), to: URL(fileURLWithPath: out))
            var counts: [String: [String: Int]] = [:]
            for subset in DatasetSplit.Subset.allCases {
                let indices = split.indices(of: subset, in: data)
                let positives = indices.filter { data.records[$0].label == 1 }.count
                counts[subset.rawValue] = ["patches": indices.count, "label1": positives, "label0": indices.count - positives]
            }
            if json {
                struct Report: Encodable { var dataset: String; var out: String; var seed: UInt64; var missing: Int; var subsets: [String: [String: Int]] }
                print(try encodeJSON(Report(dataset: dataset, out: out, seed: seed, missing: data.missing.count, subsets: counts)))
            } else {
                print("\(data.records.count) patches (\(data.positives) label 1, \(data.negatives) label 0) from \(dataset), \(data.layout.rawValue) layout")
                if !data.missing.isEmpty { print("skipped \(data.missing.count) listed files that are missing") }
                for subset in DatasetSplit.Subset.allCases {
                    let c = counts[subset.rawValue]!
                    print("  \(subset.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \(c["patches"]!) (\(c["label1"]!) label 1, \(c["label0"]!) label 0)")
                }
                print("wrote \(out)")
            }
        } catch let error as DatasetError {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}
