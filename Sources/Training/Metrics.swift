import Foundation
import Neural

/// Counts at a threshold: a probability at or above it is called positive.
public struct Confusion: Sendable, Equatable, Codable {
    public var tp = 0, fn = 0, tn = 0, fp = 0

    public init(tp: Int = 0, fn: Int = 0, tn: Int = 0, fp: Int = 0) { self.tp = tp; self.fn = fn; self.tn = tn; self.fp = fp }

    public init(probabilities: [Double], labels: [Int], threshold: Double) {
        for (p, y) in zip(probabilities, labels) {
            switch (p >= threshold, y == 1) {
            case (true, true): tp += 1
            case (false, true): fn += 1
            case (false, false): tn += 1
            case (true, false): fp += 1
            }
        }
    }

    public var total: Int { tp + fn + tn + fp }
    /// TP / (TP + FN): the share of tumour patches found (recall).
    public var sensitivity: Double { tp + fn == 0 ? .nan : Double(tp) / Double(tp + fn) }
    /// TN / (TN + FP).
    public var specificity: Double { tn + fp == 0 ? .nan : Double(tn) / Double(tn + fp) }
    public var accuracy: Double { total == 0 ? .nan : Double(tp + tn) / Double(total) }
    /// TP / (TP + FP).
    public var precision: Double { tp + fp == 0 ? .nan : Double(tp) / Double(tp + fp) }
}

/// Ranking and calibration metrics of binary probabilities.
public enum Metrics {
    /// The area under the ROC curve: the probability that a random positive scores above a
    /// random negative, ties counting half (the Mann–Whitney U statistic over n₁·n₀).
    /// NaN when any score is NaN: a diverged model has no ranking.
    public static func auc(_ scores: [Double], _ labels: [Int]) -> Double {
        guard !scores.contains(where: \.isNaN) else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let midrank = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = midrank }
            i = j + 1
        }
        let positives = labels.filter { $0 == 1 }.count, negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return .nan }
        let rankSum = zip(ranks, labels).reduce(0.0) { $0 + ($1.1 == 1 ? $1.0 : 0) }
        return (rankSum - Double(positives) * Double(positives + 1) / 2) / (Double(positives) * Double(negatives))
    }

    /// ROC points (false-positive rate, true-positive rate, threshold), from the strictest
    /// threshold to the loosest, one point per distinct score. NaN scores rank below every
    /// other score (so a NaN is never called positive) and share one point.
    public static func roc(_ scores: [Double], _ labels: [Int]) -> [(fpr: Double, tpr: Double, threshold: Double)] {
        let scores = scores.map { $0.isNaN ? -Double.infinity : $0 }
        let positives = Double(labels.filter { $0 == 1 }.count), negatives = Double(labels.count) - positives
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var points: [(Double, Double, Double)] = [(0, 0, .infinity)]
        var tp = 0.0, fp = 0.0, i = 0
        while i < order.count {
            let s = scores[order[i]]
            while i < order.count && scores[order[i]] == s {
                if labels[order[i]] == 1 { tp += 1 } else { fp += 1 }
                i += 1
            }
            points.append((negatives > 0 ? fp / negatives : 0, positives > 0 ? tp / positives : 0, s))
        }
        return points.map { (fpr: $0.0, tpr: $0.1, threshold: $0.2) }
    }

    /// The threshold that maximises Youden's J = sensitivity + specificity − 1 (ties: the
    /// one closest to 0.5). Used on validation data only.
    public static func youdenThreshold(_ scores: [Double], _ labels: [Int]) -> Double {
        var best = 0.5, bestJ = -Double.infinity
        for p in roc(scores, labels) where p.threshold.isFinite {
            let j = p.tpr - p.fpr
            if j > bestJ + 1e-12 || (abs(j - bestJ) <= 1e-12 && abs(p.threshold - 0.5) < abs(best - 0.5)) {
                bestJ = j
                best = p.threshold
            }
        }
        return best
    }

    /// A reliability diagram: `bins` equal-width bins of predicted probability, each with its
    /// mean prediction, observed positive fraction and count, and the expected calibration
    /// error ECE = Σ (nᵢ / N) · |observedᵢ − predictedᵢ|.
    public static func calibration(_ scores: [Double], _ labels: [Int], bins: Int = 10)
        -> (bins: [(predicted: Double, observed: Double, count: Int)], ece: Double) {
        var sumP = [Double](repeating: 0, count: bins), sumY = sumP, count = [Int](repeating: 0, count: bins)
        for (p, y) in zip(scores, labels) {
            let b = min(bins - 1, max(0, Int(p * Double(bins))))
            sumP[b] += p; sumY[b] += Double(y); count[b] += 1
        }
        var out: [(Double, Double, Int)] = []
        var ece = 0.0
        for b in 0..<bins where count[b] > 0 {
            let predicted = sumP[b] / Double(count[b]), observed = sumY[b] / Double(count[b])
            out.append((predicted, observed, count[b]))
            ece += Double(count[b]) / Double(scores.count) * abs(observed - predicted)
        }
        return (out.map { (predicted: $0.0, observed: $0.1, count: $0.2) }, ece)
    }

    /// A percentile-bootstrap 95% interval for each named statistic: `resamples` resamples
    /// of the cases with replacement, drawn from `seed`.
    public static func bootstrap(_ scores: [Double], _ labels: [Int], resamples: Int = 1000, seed: UInt64 = 1,
                                 statistics: [String: ([Double], [Int]) -> Double]) -> [String: Interval] {
        var generator = SplitMix64(seed: seed)
        var samples: [String: [Double]] = statistics.mapValues { _ in [] }
        let n = scores.count
        var s = [Double](repeating: 0, count: n), l = [Int](repeating: 0, count: n)
        for _ in 0..<resamples {
            for i in 0..<n {
                let j = Int(generator.next() % UInt64(n))
                s[i] = scores[j]; l[i] = labels[j]
            }
            for (name, f) in statistics {
                let v = f(s, l)
                if v.isFinite { samples[name]!.append(v) }
            }
        }
        return Dictionary(uniqueKeysWithValues: statistics.keys.map { name in
            let values = samples[name]!.sorted()
            let estimate = statistics[name]!(scores, labels)
            guard !values.isEmpty else { return (name, Interval(estimate: estimate, lower: .nan, upper: .nan)) }
            func q(_ p: Double) -> Double { values[min(values.count - 1, max(0, Int((p * Double(values.count - 1)).rounded())))] }
            return (name, Interval(estimate: estimate, lower: q(0.025), upper: q(0.975)))
        })
    }

    /// Mean binary cross-entropy of probabilities (clamped away from 0 and 1).
    public static func logLoss(_ scores: [Double], _ labels: [Int]) -> Double {
        let eps = 1e-7
        return zip(scores, labels).reduce(0.0) { total, pair in
            let p = min(1 - eps, max(eps, pair.0))
            return total - (pair.1 == 1 ? log(p) : log(1 - p))
        } / Double(max(1, scores.count))
    }
}

/// An estimate with a 95% confidence interval.
public struct Interval: Sendable, Equatable, Codable, CustomStringConvertible {
    public var estimate: Double
    public var lower: Double
    public var upper: Double
    public var description: String { String(format: "%.3f (95%% CI %.3f–%.3f)", estimate, lower, upper) }
}
