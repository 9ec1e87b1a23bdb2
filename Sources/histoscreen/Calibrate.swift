import ArgumentParser
import Foundation
import Imaging
import Neural
import Training

/// `histoscreen calibrate NAME.hsmodel --manifest datasets.csv`.
struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Calibrate a model's probabilities and choose its operating points on validation data.",
        discussion: """
            Fits a temperature T on the validation patches (p = σ(z / T), minimising log-loss) and folds it into \
            the last layer, then chooses two thresholds on the calibrated probabilities: balanced (Youden's J) and \
            screening (the highest threshold with validation sensitivity ≥ --sensitivity). Reports the expected \
            calibration error before and after. Writes the bundle to --out, or in place. An imported graph \
            keeps its probabilities (no temperature) and gets only the two operating points.
            """
    )

    @Argument(help: "The model bundle (NAME.hsmodel).") var model: String
    @Option(help: "A dataset manifest; its val patches are used (see `histoscreen train --help`).") var manifest: String?
    @Option(help: "A whole dataset to calibrate on (repeatable).") var valData: [String] = []
    @Option(help: "The sensitivity the screening point keeps on validation data.") var sensitivity = 0.95
    @Option(help: "The operating point `screen` uses by default: screening or balanced.") var defaultPoint = "screening"
    @Option(help: "Write the calibrated bundle here (default: in place).") var out: String?
    @Flag(help: "Go on when listed files are missing (they are counted).") var skipMissing = false
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        guard manifest != nil || !valData.isEmpty else { throw ValidationError("give --manifest or --val-data") }
        guard sensitivity > 0 && sensitivity < 1 else { throw ValidationError("--sensitivity must lie between 0 and 1") }
        guard OperatingPoints.names.contains(defaultPoint) else { throw ValidationError("--default-point must be screening or balanced") }
    }

    struct Report: Encodable {
        var bundle: String
        var patches: Int
        var temperature: Double
        var eceBefore: Double, eceAfter: Double
        var logLossBefore: Double, logLossAfter: Double
        var balanced: Double, screening: Double
        var defaultPoint: String
    }

    func run() throws {
        do {
            var bundle = try ModelBundle.load(from: URL(fileURLWithPath: model))
            let imported = bundle.graph != nil
            if imported && bundle.manifest.architecture.inputShape[0] != PatchDataset.patchSize {
                throw ModelBundleError(path: model, problem: "the model takes \(bundle.manifest.architecture.inputShape[0])-pixel patches; calibrate reads \(PatchDataset.patchSize)-pixel PCam patches")
            }
            var entries: [DatasetManifest.Entry] = valData.map { .init(path: $0, role: .validation) }
            if let manifest { entries = try DatasetManifest.read(manifest).entries + entries }
            let (data, split, _) = try DatasetManifest(entries: entries, source: manifest).load(skipMissing: skipMissing)
            let indices = split.indices(of: .validation, in: data)
            guard !indices.isEmpty else { throw ValidationError("no validation patches: give val roles in the manifest, or --val-data") }
            let labels = indices.map { data.records[$0].label }
            guard labels.contains(0), labels.contains(1) else { throw ValidationError("the validation patches need both labels") }
            let pixels = try data.loadPixels(indices)
            let augmenter = PatchAugmenter(normalization: bundle.manifest.normalization, augment: false)
            // An imported graph keeps its probabilities as it gives them (a temperature has no
            // layer to fold into there); only its operating points are chosen.
            let t: Double, before: [Double], after: [Double]
            if imported {
                before = try Evaluation.probabilities(bundle, pixels: pixels, count: indices.count, augmenter: augmenter)
                (t, after) = (1, before)
            } else {
                let logits = Trainer.logits(InferenceEngine(network: bundle.network), pixels: pixels, count: indices.count,
                                            augmenter: augmenter).map(Double.init)
                t = Calibration.fitTemperature(logits: logits, labels: labels)
                before = logits.map(BinaryCrossEntropy.sigmoid)
                after = logits.map { BinaryCrossEntropy.sigmoid($0 / t) }
                try Calibration.fold(temperature: t, into: bundle.network, spec: bundle.manifest.architecture)
            }
            let balanced = Metrics.youdenThreshold(after, labels)
            let screening = Calibration.screeningThreshold(after, labels, sensitivity: sensitivity)
            let chosenOn = "\(indices.count) validation patches (\(labels.filter { $0 == 1 }.count) label 1) from "
                + (manifest ?? valData.joined(separator: ", "))
            var m = bundle.manifest
            let previous = m.calibration?["temperature"]?.number ?? 1
            m.operatingPoints = OperatingPoints(balanced: balanced, screening: screening, screeningSensitivity: sensitivity,
                                                defaultPoint: defaultPoint, chosenOn: chosenOn)
            m.threshold = defaultPoint == "screening" ? screening : balanced
            let report = Report(bundle: out ?? model, patches: indices.count, temperature: t * previous,
                                eceBefore: Metrics.calibration(before, labels).ece, eceAfter: Metrics.calibration(after, labels).ece,
                                logLossBefore: Metrics.logLoss(before, labels), logLossAfter: Metrics.logLoss(after, labels),
                                balanced: balanced, screening: screening, defaultPoint: defaultPoint)
            m.calibration = .object([
                "method": .string(imported ? "none: an imported graph's probabilities are kept as it gives them"
                                           : "temperature scaling, folded into the last layer (kernel and bias divided by T)"),
                "temperature": .number(t * previous),
                "eceBefore": .number(report.eceBefore), "eceAfter": .number(report.eceAfter),
                "chosenOn": .string(chosenOn),
            ])
            // The validation metrics, now on the calibrated probabilities at both points.
            func point(_ t: Double) -> JSONValue {
                let c = Confusion(probabilities: after, labels: labels, threshold: t)
                return .object(["threshold": .number(t), "sensitivity": .number(c.sensitivity),
                                "specificity": .number(c.specificity), "accuracy": .number(c.accuracy)])
            }
            var metrics = m.metrics?.objectValue ?? [:]
            metrics["validation"] = .object([
                "auc": .number(Metrics.auc(after, labels)), "patches": .number(Double(indices.count)),
                "expectedCalibrationError": .number(report.eceAfter), "balanced": point(balanced), "screening": point(screening),
                "chosenOn": .string(chosenOn),
            ])
            m.metrics = .object(metrics)
            bundle.manifest = m
            let destination = URL(fileURLWithPath: out ?? model)
            if out != nil, let history = FileManager.default.contents(atPath: model + "/history.json") {
                try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
                try AtomicFile.write([UInt8](history), to: destination.appendingPathComponent("history.json"))
            }
            try bundle.save(to: destination)
            if json {
                print(try encodeJSON(report))
            } else {
                print(String(format: "temperature %.3f: ECE %.3f → %.3f, log-loss %.4f → %.4f on %d validation patches",
                             report.temperature, report.eceBefore, report.eceAfter, report.logLossBefore, report.logLossAfter, indices.count))
                print(String(format: "operating points: balanced %.3f, screening %.3f (sensitivity ≥ %.2f); default %@",
                             balanced, screening, sensitivity, defaultPoint))
                print("wrote \(destination.relativePath)")
            }
        } catch let error as ModelBundleError {
            printError(error.description); throw ExitCode(1)
        } catch let error as DatasetError {
            printError(error.description); throw ExitCode(1)
        }
    }
}
