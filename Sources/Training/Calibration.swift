import Foundation
import Neural

/// Temperature scaling (Guo et al. 2017) and operating points, both fitted on validation data.
///
/// A temperature T divides the logit: p = σ(z / T). It changes no ranking, so AUC and the
/// order of tiles stay as they are, but it makes a reported 0.9 mean about 90 %. T is found by
/// minimising the validation log-loss over log T (golden-section search; the loss is convex
/// in 1/T), then folded into the last dense layer (W / T, b / T), so that every consumer of the
/// bundle (screening, evaluation, export) sees calibrated probabilities.
public enum Calibration {
    /// The temperature in [0.05, 20] that minimises the mean log-loss of σ(z / T).
    public static func fitTemperature(logits: [Double], labels: [Int]) -> Double {
        func loss(_ logT: Double) -> Double {
            let t = exp(logT)
            var sum = 0.0
            for (z, y) in zip(logits, labels) {
                let s = z / t
                // −log σ(s) for y = 1 and −log σ(−s) for y = 0, computed without overflow.
                let m = y == 1 ? -s : s
                sum += max(m, 0) + log1p(exp(-abs(m)))
            }
            return sum / Double(max(1, logits.count))
        }
        var a = log(0.05), b = log(20.0)
        let ratio = (5.0.squareRoot() - 1) / 2
        var c = b - ratio * (b - a), d = a + ratio * (b - a)
        var fc = loss(c), fd = loss(d)
        for _ in 0..<80 {
            if fc < fd { b = d; d = c; fd = fc; c = b - ratio * (b - a); fc = loss(c) } else { a = c; c = d; fc = fd; d = a + ratio * (b - a); fd = loss(d) }
        }
        return exp((a + b) / 2)
    }

    /// The highest threshold at which at least `sensitivity` of the positives score at or above
    /// it: the screening point. Higher thresholds give fewer false positives, so the highest
    /// one that keeps the sensitivity is the one to use.
    public static func screeningThreshold(_ scores: [Double], _ labels: [Int], sensitivity: Double) -> Double {
        let positives = scores.enumerated().filter { labels[$0.offset] == 1 }.map(\.element).sorted(by: >)
        guard !positives.isEmpty else { return 0.5 }
        let needed = Int((sensitivity * Double(positives.count)).rounded(.up))
        let t = positives[max(0, min(positives.count - 1, needed - 1))]
        return min(max(t, 1e-6), 1 - 1e-6)
    }

    /// Divides the last layer's kernel and bias by `temperature`. The network must end in a
    /// dense layer with one output (a sigmoid model).
    public static func fold(temperature: Double, into network: Network<Float>, spec: ModelSpec) throws(DatasetError) {
        guard let last = spec.layers.last(where: { $0.type != .dropout }), last.type == .dense, last.units == 1 else {
            throw DatasetError(path: spec.name, problem: "temperature scaling needs a network that ends in a dense layer with one output")
        }
        var weights = network.weights()
        for key in ["\(last.name).kernel", "\(last.name).bias"] {
            guard let w = weights[key] else { continue }
            weights[key] = Tensor(shape: w.shape, data: w.data.map { Float(Double($0) / temperature) })
        }
        do { try network.loadWeights(weights) } catch {
            throw DatasetError(path: spec.name, problem: "cannot fold the temperature in: \(error.message)")
        }
    }
}
