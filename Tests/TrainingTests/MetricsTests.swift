import Foundation
import Testing
import Training
import _TestSupport

@Suite struct MetricsTests {
    /// Ten patches counted by hand: at threshold 0.5 the positives score 0.9, 0.8, 0.6, 0.4
    /// and 0.2 (TP 3, FN 2) and the negatives 0.7, 0.3, 0.1, 0.05, 0.5 (FP 2, TN 3).
    @Test func countsAndRatesByHand() {
        let scores = [0.9, 0.8, 0.6, 0.4, 0.2, 0.7, 0.3, 0.1, 0.05, 0.5]
        let labels = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
        let c = Confusion(probabilities: scores, labels: labels, threshold: 0.5)
        #expect(c == Confusion(tp: 3, fn: 2, tn: 3, fp: 2))
        #expect(c.sensitivity == 0.6)
        #expect(c.specificity == 0.6)
        #expect(c.accuracy == 0.6)
        // AUC by hand: of the 25 (positive, negative) pairs, the positive ranks higher in 19.
        #expect(abs(Metrics.auc(scores, labels) - 19.0 / 25.0) < 1e-12)
    }

    struct Golden: Decodable {
        struct Case: Decodable {
            var name: String; var scores: [Double]; var labels: [Int]; var auc: Double
            var rocFPR: [Double]; var rocTPR: [Double]; var confusionAtHalf: Confusion
        }
        var sklearnVersion: String
        var cases: [Case]
    }

    /// AUC, ROC points and counts against scikit-learn (Scripts/golden_metrics.py).
    @Test func matchesScikitLearn() throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: TestPaths.fixtures.appendingPathComponent("golden/metrics.json")))
        for c in golden.cases {
            #expect(abs(Metrics.auc(c.scores, c.labels) - c.auc) < 1e-12, "\(c.name)")
            let roc = Metrics.roc(c.scores, c.labels)
            #expect(roc.map(\.fpr).count == c.rocFPR.count, "\(c.name): ROC points")
            for (mine, theirs) in zip(roc, zip(c.rocFPR, c.rocTPR)) {
                #expect(abs(mine.fpr - theirs.0) < 1e-12 && abs(mine.tpr - theirs.1) < 1e-12, "\(c.name)")
            }
            #expect(Confusion(probabilities: c.scores, labels: c.labels, threshold: 0.5) == c.confusionAtHalf, "\(c.name)")
        }
    }

    @Test func bootstrapIntervalsAreSeededAndContainTheEstimate() {
        let scores = (0..<200).map { Double(($0 * 37) % 101) / 100 }
        let labels = (0..<200).map { ($0 * 37) % 101 > 40 ? ($0 % 5 == 0 ? 0 : 1) : ($0 % 7 == 0 ? 1 : 0) }
        let a = Metrics.bootstrap(scores, labels, resamples: 200, seed: 3, statistics: ["auc": Metrics.auc])
        let b = Metrics.bootstrap(scores, labels, resamples: 200, seed: 3, statistics: ["auc": Metrics.auc])
        #expect(a == b)
        let auc = a["auc"]!
        #expect(auc.lower <= auc.estimate && auc.estimate <= auc.upper)
        #expect(auc.upper - auc.lower < 0.2)
    }

    @Test func calibrationAndThreshold() {
        let perfect = Metrics.calibration([0.05, 0.05, 0.95, 0.95], [0, 0, 1, 1])
        #expect(abs(perfect.ece - 0.05) < 1e-12)
        // Youden's J picks the cut between the classes when they separate.
        let t = Metrics.youdenThreshold([0.1, 0.2, 0.3, 0.7, 0.8], [0, 0, 0, 1, 1])
        #expect(t == 0.7)
    }
}

@Suite struct MetricsNaNTests {
    /// NaN scores (a diverged model) end the ROC walk and rank lowest; the AUC is NaN.
    @Test func nanScoresAreHandled() {
        let scores = [0.9, .nan, 0.2, .nan, 0.7], labels = [1, 1, 0, 0, 0]
        let roc = Metrics.roc(scores, labels)
        #expect(roc.count == 5)  // the start, three distinct scores and one point for both NaNs
        #expect(roc.last!.fpr == 1 && roc.last!.tpr == 1)
        #expect(Metrics.auc(scores, labels).isNaN)
        #expect(Metrics.youdenThreshold(scores, labels).isFinite)
    }
}
