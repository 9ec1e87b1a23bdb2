import Foundation

/// What screening needs of a model: the probability of the positive class for a batch of
/// normalised NHWC patches. Built-in networks (`InferenceEngine`) and imported graphs
/// (`GraphClassifier`) both provide it.
public protocol PatchClassifier: AnyObject, Sendable {
    func probabilities(_ input: UnsafePointer<Float>, count: Int) throws -> [Float]
}

extension InferenceEngine: PatchClassifier {}

/// How a graph's output becomes probabilities.
public enum OutputActivation: String, Sendable, Codable, CaseIterable {
    /// The output already holds probabilities (the graph ends in Sigmoid or Softmax).
    case none
    /// One logit per image: σ(logit).
    case sigmoid
    /// Class logits: softmax over them.
    case softmax
}

/// An imported graph as a patch classifier: NHWC patches are run (the engine keeps them
/// channels-last as far as its kernels go), turned into probabilities by `activation`, and the
/// positive class's is returned.
public final class GraphClassifier: PatchClassifier, @unchecked Sendable {  // immutable
    public let engine: GraphEngine
    public let activation: OutputActivation
    public let positiveIndex: Int
    public let classCount: Int

    public init(engine: GraphEngine, activation: OutputActivation, positiveIndex: Int) throws(GraphError) {
        self.engine = engine
        self.activation = activation
        self.classCount = try engine.scoreCount()
        guard (0..<classCount).contains(positiveIndex) else {
            throw GraphError("positive class \(positiveIndex) of \(classCount) outputs")
        }
        guard activation != .sigmoid || classCount == 1 else {
            throw GraphError("a sigmoid output has one score per image, but the graph gives \(classCount)")
        }
        self.positiveIndex = positiveIndex
    }

    /// Every class's probability for `count` NHWC images, row by row.
    public func classProbabilities(_ input: UnsafePointer<Float>, count: Int) throws -> [Float] {
        var scores = try engine.run(channelsLast: input, batch: count).data
        let k = classCount
        switch activation {
        case .none: break
        case .sigmoid: for i in scores.indices { scores[i] = 1 / (1 + Foundation.exp(-scores[i])) }
        case .softmax:
            for n in 0..<count {
                let row = scores[(n * k)..<((n + 1) * k)]
                let m = row.max() ?? 0
                var s: Float = 0
                for j in 0..<k { scores[n * k + j] = Foundation.exp(scores[n * k + j] - m); s += scores[n * k + j] }
                for j in 0..<k { scores[n * k + j] /= s }
            }
        }
        return scores
    }

    public func probabilities(_ input: UnsafePointer<Float>, count: Int) throws -> [Float] {
        let all = try classProbabilities(input, count: count)
        return (0..<count).map { all[$0 * classCount + positiveIndex] }
    }
}
