import Foundation
import Imaging
import Neural

/// Patch-level evaluation of a model bundle, with uncertainty.
public struct EvaluationReport: Sendable, Codable {
    public var model: String
    public var dataset: String
    public var subset: String
    public var patches: Int
    public var positives: Int
    public var threshold: Double
    public var testTimeAugmentation: Bool
    public var confusion: Confusion
    public var sensitivity: Interval
    public var specificity: Interval
    public var accuracy: Interval
    public var auc: Interval
    public var expectedCalibrationError: Double
    public var bootstrapResamples: Int
    /// The seed project's reported figures, for comparison (same data family, other split).
    public var seedProjectReference = ["sensitivity": 0.899, "specificity": 0.932, "accuracy": 0.918]
    /// Counts and rates at each of the bundle's operating points, when it has them.
    public var operatingPoints: [String: OperatingPointResult]?
    public var note = "Patch-level metrics. They describe new slides only when the evaluated patches come from slides the model "
        + "was neither trained nor tuned on (such as PCam's valid or test split); a split of Kaggle patches by patch does not ensure that."
}

/// Metrics at one named threshold.
public struct OperatingPointResult: Sendable, Codable {
    public var threshold: Double
    public var confusion: Confusion
    public var sensitivity: Interval
    public var specificity: Interval
    public var accuracy: Interval
}

public struct EvaluationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum Evaluation {
    /// Predicts every patch in `indices`, computes counts and rates at the bundle's threshold,
    /// AUC, bootstrap 95% intervals and calibration, and writes `metrics.json`,
    /// `predictions.csv`, `roc.png`, `calibration.png`, `false-negatives.png` and
    /// `false-positives.png` into `outputDirectory`.
    public static func run(bundle: ModelBundle, bundlePath: String, dataset: PatchDataset, indices: [Int], subset: String,
                           testTimeAugmentation: Bool, outputDirectory: URL, resamples: Int = 1000,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> EvaluationReport {
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        let pixels = try dataset.loadPixels(indices)
        let labels = indices.map { dataset.records[$0].label }
        let augmenter = PatchAugmenter(normalization: bundle.manifest.normalization, augment: false)
        let views = testTimeAugmentation ? Array(0..<8) : [0]
        let probabilities = try Self.probabilities(bundle, pixels: pixels, count: indices.count, augmenter: augmenter, views: views,
                                                   progress: progress)
        let threshold = bundle.manifest.threshold
        let confusion = Confusion(probabilities: probabilities, labels: labels, threshold: threshold)
        let intervals = Metrics.bootstrap(probabilities, labels, resamples: resamples, seed: 1, statistics: [
            "auc": Metrics.auc,
            "sensitivity": { Confusion(probabilities: $0, labels: $1, threshold: threshold).sensitivity },
            "specificity": { Confusion(probabilities: $0, labels: $1, threshold: threshold).specificity },
            "accuracy": { Confusion(probabilities: $0, labels: $1, threshold: threshold).accuracy },
        ])
        let calibration = Metrics.calibration(probabilities, labels)
        var points: [String: OperatingPointResult]?
        if let op = bundle.manifest.operatingPoints {
            points = [:]
            for name in OperatingPoints.names {
                let t = op.threshold(name)!
                // The bundle's own threshold is one of its points: its intervals are already drawn.
                let ci = t == threshold ? intervals : Metrics.bootstrap(probabilities, labels, resamples: resamples, seed: 1, statistics: [
                    "sensitivity": { Confusion(probabilities: $0, labels: $1, threshold: t).sensitivity },
                    "specificity": { Confusion(probabilities: $0, labels: $1, threshold: t).specificity },
                    "accuracy": { Confusion(probabilities: $0, labels: $1, threshold: t).accuracy },
                ])
                points![name] = OperatingPointResult(threshold: t, confusion: Confusion(probabilities: probabilities, labels: labels, threshold: t),
                                                     sensitivity: ci["sensitivity"]!, specificity: ci["specificity"]!, accuracy: ci["accuracy"]!)
            }
        }
        var report = EvaluationReport(
            model: bundlePath, dataset: dataset.root, subset: subset, patches: indices.count, positives: labels.filter { $0 == 1 }.count,
            threshold: threshold, testTimeAugmentation: testTimeAugmentation, confusion: confusion,
            sensitivity: intervals["sensitivity"]!, specificity: intervals["specificity"]!, accuracy: intervals["accuracy"]!,
            auc: intervals["auc"]!, expectedCalibrationError: calibration.ece, bootstrapResamples: resamples)
        report.operatingPoints = points

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(Array(try encoder.encode(report)), to: outputDirectory.appendingPathComponent("metrics.json"))
        var csv = "id,label,probability,predicted\n"
        for (k, i) in indices.enumerated() {
            csv += "\(CSV.escape(dataset.records[i].id)),\(labels[k]),\(String(format: "%.6f", probabilities[k])),\(probabilities[k] >= threshold ? 1 : 0)\n"
        }
        try AtomicFile.write(text: csv, to: outputDirectory.appendingPathComponent("predictions.csv"))

        let roc = Metrics.roc(probabilities, labels)
        var rocChart = LineChart(title: "ROC, \(subset) (\(indices.count) patches)", xLabel: "false-positive rate (1 − specificity)",
                                 yLabel: "true-positive rate (sensitivity)", series: [
            .init("chance", [(0, 0), (1, 1)], color: .grey, dashed: true),
            .init("model", roc.map { ($0.fpr, $0.tpr) }, color: .blue),
        ], xRange: (0, 1), yRange: (0, 1))
        rocChart.notes = [String(format: "AUC %.3f (95%% CI %.3f–%.3f)", report.auc.estimate, report.auc.lower, report.auc.upper),
                          String(format: "at threshold %.3f: sens %.3f, spec %.3f", threshold, confusion.sensitivity, confusion.specificity)]
        var canvas = rocChart.render(width: 560, height: 480)
        // Mark the operating point.
        let left = 64.0, right = 560.0 - 16, top = 34.0, bottom = 480.0 - 48
        let ox = left + (1 - confusion.specificity) * (right - left), oy = bottom - confusion.sensitivity * (bottom - top)
        canvas.fillRect(x: Int(ox) - 4, y: Int(oy) - 4, width: 9, height: 9, .vermillion)
        try PNG.write(canvas.raster, to: outputDirectory.appendingPathComponent("roc.png"))

        var calibrationChart = LineChart(title: "Calibration, \(subset)", xLabel: "mean predicted probability",
                                         yLabel: "observed fraction of tumour", series: [
            .init("perfect", [(0, 0), (1, 1)], color: .grey, dashed: true),
            .init("model (10 bins)", calibration.bins.map { ($0.predicted, $0.observed) }, color: .vermillion),
        ], xRange: (0, 1), yRange: (0, 1))
        calibrationChart.notes = [String(format: "ECE %.3f", calibration.ece)]
        try PNG.write(calibrationChart.render(width: 560, height: 480).raster, to: outputDirectory.appendingPathComponent("calibration.png"))

        let falseNegatives = labels.indices.filter { labels[$0] == 1 && probabilities[$0] < threshold }
            .sorted { probabilities[$0] < probabilities[$1] }
        let falsePositives = labels.indices.filter { labels[$0] == 0 && probabilities[$0] >= threshold }
            .sorted { probabilities[$0] > probabilities[$1] }
        try PNG.write(gallery(falseNegatives.prefix(16).map { ($0, probabilities[$0]) }, pixels: pixels,
                              title: "Most confident false negatives (tumour called normal)").raster,
                      to: outputDirectory.appendingPathComponent("false-negatives.png"))
        try PNG.write(gallery(falsePositives.prefix(16).map { ($0, probabilities[$0]) }, pixels: pixels,
                              title: "Most confident false positives (normal called tumour)").raster,
                      to: outputDirectory.appendingPathComponent("false-positives.png"))
        return report
    }

    /// A 4-column grid of patches at 2×, each with its probability; the centre 32×32 label
    /// region is outlined.
    /// The positive class's probability for `count` 96-pixel patches (`pixels`, RGB), averaged
    /// over the dihedral `views`, in chunks of 256: the built-in engine, or an imported graph's
    /// classifier on the same normalised views. A graph must take 96-pixel patches.
    public static func probabilities(_ bundle: ModelBundle, pixels: [UInt8], count: Int, augmenter: PatchAugmenter, views: [Int] = [0],
                                     progress: (Int, Int) -> Void = { _, _ in }) throws -> [Double] {
        let size = PatchDataset.patchSize * PatchDataset.patchSize * 3
        let classifier: (any PatchClassifier)?
        if bundle.graph != nil {
            guard bundle.manifest.architecture.inputShape[0] == PatchDataset.patchSize else {
                throw EvaluationError("the model takes \(bundle.manifest.architecture.inputShape[0])-pixel patches; PCam patches have \(PatchDataset.patchSize)")
            }
            classifier = bundle.classifier()
        } else {
            classifier = nil
        }
        var probabilities = [Double](repeating: 0, count: count)
        var start = 0
        while start < count {
            let n = min(256, count - start)
            let slice = Array(pixels[(start * size)..<((start + n) * size)])
            if let classifier {
                var input = [Float](repeating: 0, count: n * size)
                for view in views {
                    input.withUnsafeMutableBufferPointer { dst in
                        slice.withUnsafeBufferPointer { augmenter.normalize(dst.baseAddress!, from: $0.baseAddress!, count: n, view: view) }
                    }
                    let q = try input.withUnsafeBufferPointer { try classifier.probabilities($0.baseAddress!, count: n) }
                    for i in 0..<n { probabilities[start + i] += Double(q[i]) / Double(views.count) }
                }
            } else {
                let p = Trainer.predict(bundle.network, pixels: slice, count: n, augmenter: augmenter, views: views)
                for i in 0..<n { probabilities[start + i] = p[i] }
            }
            start += n
            progress(start, count)
        }
        return probabilities
    }

    static func gallery(_ items: [(Int, Double)], pixels: [UInt8], title: String) -> Canvas {
        let cell = 192, gap = 10, columns = 4
        let rows = max(1, (items.count + columns - 1) / columns)
        var canvas = Canvas(width: columns * (cell + gap) + gap, height: 30 + rows * (cell + gap + Canvas.lineHeight + 4))
        canvas.text(items.isEmpty ? title + ": none" : title, x: gap, y: 6)
        for (k, (index, p)) in items.enumerated() {
            let x = gap + (k % columns) * (cell + gap), y = 30 + (k / columns) * (cell + gap + Canvas.lineHeight + 4)
            let patch = Raster(width: 96, height: 96, channels: 3,
                               pixels: Array(pixels[(index * 96 * 96 * 3)..<((index + 1) * 96 * 96 * 3)]))
            canvas.draw(patch, x: x, y: y, scale: 2)
            canvas.strokeRect(x: x + 64, y: y + 64, width: 64, height: 64, .green)
            canvas.text(String(format: "p = %.3f", p), x: x, y: y + cell + 2)
        }
        return canvas
    }
}
