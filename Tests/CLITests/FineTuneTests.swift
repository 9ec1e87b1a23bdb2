import Foundation
import Imaging
@testable import Neural
import Testing
import _TestSupport

/// Training from imported weights: a sequential graph becomes a built-in network with the
/// same outputs, and `train --init … --trainable-from LAYER` fine-tunes it; a branching graph
/// is refused, naming the node.
@Suite struct FineTuneTests {
    let dir = TemporaryDirectory()

    /// A built-in compact-slim network exported to ONNX and imported back, as a graph bundle. (Not
    /// the bundled model: that may be a residual network, whose graph branches.)
    func importedSequentialModel() throws -> URL {
        let source = dir.file("compact-slim.hsmodel"), onnx = dir.file("bundled.onnx"), bundle = dir.file("imported.hsmodel")
        #expect(try CLI.run(["init-model", "--arch", "compact-slim", "--out", source.path]).status == 0)
        #expect(try CLI.run(["export", source.path, "--onnx", onnx.path]).status == 0)
        let pcam = try CLI.run(["import", onnx.path, "--out", bundle.path, "--model-mpp", "0.972", "--normalization", "pcam"])
        #expect(pcam.status == 0, "\(pcam.stderr)")
        return bundle
    }

    static func probabilities(_ classifier: any PatchClassifier, seed: UInt64) throws -> [Float] {
        var g = SplitMix64(seed: seed)
        let input = (0..<(4 * 96 * 96 * 3)).map { _ in Float.random(in: -2...2, using: &g) }
        return try input.withUnsafeBufferPointer { try classifier.probabilities($0.baseAddress!, count: 4) }
    }

    @Test func sequentialGraphsConvertExactly() throws {
        let bundle = try ModelBundle.load(from: try importedSequentialModel())
        let (spec, weights) = try SequentialConversion.convert(bundle.manifest.graph!, weights: bundle.graphWeights, name: "converted")
        let network = try Network<Float>(spec: spec)
        try network.loadWeights(weights)
        let graph = try Self.probabilities(try #require(bundle.graphClassifier), seed: 5)
        let converted = try Self.probabilities(InferenceEngine(network: network), seed: 5)
        for (a, b) in zip(graph, converted) { #expect(abs(a - b) <= 1e-4, "\(a) vs \(b)") }
        #expect(spec.layers.last?.type == .dense && spec.layers.last?.units == 1)
        // Screening runs such a graph on the built-in engine.
        #expect(bundle.convertedNetwork != nil && bundle.classifier() is InferenceEngine)
    }

    @Test func branchingGraphsAreRefusedByName() throws {
        let bytes = Array(try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("onnx/concat.onnx")))
        let (graph, weights) = try ONNXImport.read(bytes, path: "concat.onnx")
        #expect {
            _ = try SequentialConversion.convert(graph, weights: weights, name: "x")
        } throws: { error in
            let text = (error as? GraphError)?.problem ?? ""
            return text.contains("node 'Conv_1' (Conv) reads 'x'") && text.contains("the graph branches") && text.contains("training needs a sequential network")
        }
    }

    @Test func trainFromImportedWeights() throws {
        let bundle = try importedSequentialModel()
        let labels = TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path
        let split = dir.file("split.csv")
        #expect(try CLI.run(["split", labels, "--out", split.path]).status == 0)
        let layers = try ModelBundle.load(from: bundle).manifest.graph!.nodes.filter { $0.op == "Gemm" }.map(\.name)
        let last = String(try #require(layers.last).map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        let out = dir.file("tuned.hsmodel")
        let result = try CLI.run(["train", labels, "--split", split.path, "--init", bundle.path, "--trainable-from", last,
                                  "--epochs", "1", "--out", out.path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let tuned = try ModelBundle.load(from: out)
        #expect(tuned.manifest.graph == nil)  // a built-in network now, trainable further
        #expect(tuned.manifest.normalization == (try ModelBundle.load(from: bundle)).manifest.normalization)
        let wrong = try CLI.run(["train", labels, "--split", split.path, "--init", bundle.path, "--trainable-from", "nope",
                                 "--epochs", "1", "--out", dir.file("no.hsmodel").path, "--quiet"])
        #expect(wrong.status != 0 && wrong.stderr.contains("layers:"), "\(wrong.stderr)")
    }
}
