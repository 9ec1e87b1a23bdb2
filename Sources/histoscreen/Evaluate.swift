import ArgumentParser
import Foundation
import Neural
import Training

/// `histoscreen evaluate NAME.hsmodel DATASET --out DIR`.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model bundle on labelled patches.",
        discussion: """
            Reports TP, FN, TN, FP, sensitivity, specificity and accuracy at the bundle's threshold (chosen on \
            validation data), AUC, bootstrap 95% confidence intervals and the expected calibration error, and \
            writes metrics.json, predictions.csv, roc.png, calibration.png and galleries of the most confident \
            false negatives and false positives into DIR.
            """
    )

    @Argument(help: "The model bundle (NAME.hsmodel).") var model: String
    @Argument(help: "The labelled patch dataset.") var dataset: String?
    @Option(help: "A split CSV; evaluates --subset of it (default: every patch).") var split: String?
    @Option(help: "A dataset manifest (see `histoscreen train --help`); evaluates the patches whose role is --subset.")
    var manifest: String?
    @Option(help: "Another whole dataset to evaluate (repeatable).") var data: [String] = []
    @Option(help: "train, val or test.") var subset = "test"
    @Option(help: "Output folder.") var out: String
    @Option(help: "Bootstrap resamples for the confidence intervals.") var resamples = 1000
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @Flag(help: "Average the 8 flips and rotations of each patch.") var tta = false
    @Flag(help: "Go on when listed files are missing (they are counted).") var skipMissing = false
    @Flag(help: "No progress bar.") var quiet = false
    @Flag(help: "Print the metrics as JSON.") var json = false
    @OptionGroup var onnx: ONNXOptions

    func validate() throws {
        guard (10...100_000).contains(resamples) else { throw ValidationError("--resamples must be between 10 and 100000") }
    }

    func run() throws {
        if let threads { Threading.threadCount = threads }
        let progress = ProgressBar(enabled: !quiet)
        do {
            let url = URL(fileURLWithPath: model)
            let bundle = url.pathExtension.lowercased() == "onnx"
                ? try ModelBundle.importONNX(url, settings: try onnx.settings(for: model))
                : try ModelBundle.load(from: url)
            guard let wanted = DatasetSplit.Subset(rawValue: subset) else { throw ValidationError("--subset must be train, val or test") }
            var entries: [DatasetManifest.Entry] = []
            if let dataset {
                // A whole dataset is evaluated as a test set; with --split, its --subset.
                entries.append(split.map { .init(path: dataset, role: .split, split: $0) } ?? .init(path: dataset, role: .test))
            }
            if let manifest { entries += try DatasetManifest.read(manifest).entries }
            entries += self.data.map { .init(path: $0, role: .test) }
            guard !entries.isEmpty else { throw ValidationError("give a DATASET, --manifest or --data") }
            let (data, assignment, _) = try DatasetManifest(entries: entries, source: manifest).load(skipMissing: skipMissing)
            // Without a split or manifest every patch is evaluated (each whole dataset is a test set).
            let whole = split == nil && manifest == nil
            let indices = assignment.indices(of: whole ? .test : wanted, in: data)
            let subsetName = whole ? "all" : subset
            guard !indices.isEmpty else { throw ValidationError("the \(subset) subset is empty") }
            let start = Date()
            let report = try Evaluation.run(bundle: bundle, bundlePath: model, dataset: data, indices: indices, subset: subsetName,
                                            testTimeAugmentation: tta, outputDirectory: URL(fileURLWithPath: out),
                                            resamples: resamples) { done, total in
                let rate = Double(done * (tta ? 8 : 1)) / max(1e-9, Date().timeIntervalSince(start))
                progress.update("evaluating", done: done, total: total, detail: String(format: "%.0f patches/s", rate))
            }
            progress.finish()
            if json {
                print(try encodeJSON(report))
            } else {
                let c = report.confusion
                print("\(model) on \(report.patches) \(subsetName) patches (\(report.positives) label 1)\(tta ? ", 8-view TTA" : "")")
                let origin = bundle.manifest.operatingPoints != nil ? "chosen on validation data" : "the bundle's; not calibrated"
                print("  threshold    \(String(format: "%.3f", report.threshold)) (\(origin))")
                print("  TP \(c.tp)  FN \(c.fn)  TN \(c.tn)  FP \(c.fp)")
                print("  sensitivity  \(report.sensitivity)")
                print("  specificity  \(report.specificity)")
                print("  accuracy     \(report.accuracy)")
                print("  AUC          \(report.auc)")
                print("  ECE          \(String(format: "%.3f", report.expectedCalibrationError))")
                for (name, r) in (report.operatingPoints ?? [:]).sorted(by: { $0.key > $1.key }) {
                    print(String(format: "  %@ point %.3f: sensitivity %@, specificity %@, accuracy %@", name, r.threshold,
                                 "\(r.sensitivity)", "\(r.specificity)", "\(r.accuracy)"))
                }
                print("  seed project: sensitivity 0.899, specificity 0.932, accuracy 0.918 (another split)")
                print("wrote \(out)/metrics.json, predictions.csv, roc.png, calibration.png, false-negatives.png, false-positives.png")
            }
        } catch let error as ModelBundleError {
            progress.finish(); printError(error.description); throw ExitCode(1)
        } catch let error as DatasetError {
            progress.finish(); printError(error.description); throw ExitCode(1)
        }
    }
}
