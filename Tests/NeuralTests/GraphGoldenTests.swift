import Foundation
@testable import Neural
import Testing
import _TestSupport

/// The graph engine against onnxruntime, one tiny graph per operator
/// (Tests/Fixtures/onnx, written by Scripts/make_onnx_fixtures.py).
///
/// Tolerance: each output is a float32 sum of at most K = 192 products (the widest Gemm), whose
/// rounding error is bounded by about K·ε·Σ|xᵢwᵢ| with ε = 6·10⁻⁸; with inputs and weights of
/// order 1 that is below 2·10⁻⁵·Σ|xᵢwᵢ|. onnxruntime adds its own error of the same order and
/// sums in another order, so the bound is 1e-4 · (1 + |reference|), which still catches any
/// wrong index, padding, or semantics (those err by the size of the values).
@Suite struct GraphGoldenTests {
    static let directory = TestPaths.fixtures.appendingPathComponent("onnx")
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        .filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent("\($0).onnx").path) }.sorted()

    struct Golden: Decodable {
        var inputShape: [Int]
        var input: [Float]
        var outputShape: [Int]
        var output: [Float]
    }

    @Test func everyOperatorHasAFixture() {
        let covered = Set(Self.names.flatMap { name -> [String] in
            guard let bytes = FileManager.default.contents(atPath: Self.directory.appendingPathComponent("\(name).onnx").path),
                  let model = try? ONNXImport.read(Array(bytes), path: name) else { return [] }
            return model.graph.nodes.map(\.op)
        })
        #expect(Set(ONNXImport.supported.keys).subtracting(covered).isEmpty, "no fixture for \(Set(ONNXImport.supported.keys).subtracting(covered))")
    }

    @Test(arguments: names)
    func matchesOnnxruntime(_ name: String) throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.directory.appendingPathComponent("\(name).json")))
        let bytes = try Data(contentsOf: Self.directory.appendingPathComponent("\(name).onnx"))
        let (graph, weights) = try ONNXImport.read(Array(bytes), path: "\(name).onnx", inputSize: golden.inputShape[2])
        let engine = try GraphEngine(graph: graph, weights: weights)
        let result = try engine.run(golden.input, batch: golden.inputShape[0])
        #expect(result.shape == golden.outputShape)
        var worst: Float = 0
        for (a, b) in zip(result.data, golden.output) { worst = max(worst, abs(a - b) / (1 + abs(b))) }
        #expect(worst <= 1e-4, "\(name): worst scaled difference \(worst)")
    }

    /// Folding batch normalisation into the convolution changes nothing but rounding.
    @Test func foldingIsExactUpToRounding() throws {
        let bytes = try Data(contentsOf: Self.directory.appendingPathComponent("conv_bn_relu.onnx"))
        let (graph, weights) = try ONNXImport.read(Array(bytes), path: "conv_bn_relu.onnx", inputSize: 8)
        let engine = try GraphEngine(graph: graph, weights: weights)
        #expect(engine.nodes.map(\.op) == ["Conv", "Add", "BatchNormalization"])  // BN folded, ReLU fused
        #expect(engine.fusedRelu.count == 1)
    }

    @Test(arguments: [
        ("bad_unsupported_op", "node 'tanh_1' (Tanh): operator Tanh is not supported"),
        ("bad_unsupported_attribute", "node 'conv_1' (Conv): attribute 'foo' is not supported"),
        ("bad_opset10", "uses opset 10; HistoScreen reads opset 11 and later"),
        ("bad_uint8_input", "has element type 2; HistoScreen feeds float32"),
        ("bad_int8_weight", "tensor 'k': has data type 3 (INT8)"),
        ("bad_two_channels", "has 2 channels; HistoScreen feeds RGB (3)"),
        ("bad_free_size", "has a free height or width; give its size with --input N"),
        ("bad_other_domain", "node 'custom_1' (Relu): operator domain 'com.example' is not supported"),
        ("bad_external_data", "tensor 'w': is stored outside the file (external data)"),
    ])
    func refusesWhatItCannotRun(_ name: String, _ message: String) throws {
        let bytes = try Data(contentsOf: Self.directory.appendingPathComponent("\(name).onnx"))
        #expect {
            _ = try ONNXImport.read(Array(bytes), path: "\(name).onnx")
        } throws: { error in
            let text = (error as? ONNXImport.Failure)?.description ?? "\(error)"
            return text.hasPrefix("\(name).onnx: ") && text.contains(message)
        }
    }

    /// Truncated or corrupted files are refused with an error, never a trap.
    @Test func damagedFilesAreRefused() throws {
        let bytes = Array(try Data(contentsOf: Self.directory.appendingPathComponent("classifier_sigmoid.onnx")))
        for cut in [1, 7, bytes.count / 3, bytes.count / 2, bytes.count - 1] {
            #expect(throws: ONNXImport.Failure.self) { _ = try ONNXImport.read(Array(bytes.prefix(cut)), path: "cut.onnx") }
        }
        var g = SplitMix64(seed: 3)
        for _ in 0..<200 {
            var damaged = bytes
            for _ in 0..<4 { damaged[Int(g.next() % UInt64(damaged.count))] = UInt8(truncatingIfNeeded: g.next()) }
            if let (graph, weights) = try? ONNXImport.read(damaged, path: "damaged.onnx", inputSize: 32) {
                _ = try? GraphEngine(graph: graph, weights: weights)  // may load or refuse, must not trap
            }
        }
        #expect(throws: ONNXImport.Failure.self) { _ = try ONNXImport.read(Array("not a model".utf8), path: "text.onnx") }
    }

    /// The im2col + BLAS convolution against a direct 7-loop convolution, on shapes with
    /// groups, dilation, stride and asymmetric padding.
    @Test(arguments: [(1, 1, 1, 0, 0), (2, 1, 2, 1, 2), (3, 2, 1, 2, 0), (1, 3, 2, 0, 1)])
    func convolutionMatchesPlainLoops(_ groups: Int, _ stride: Int, _ dilation: Int, _ padTop: Int, _ padLeft: Int) throws {
        var g = SplitMix64(seed: UInt64(groups * 100 + stride * 10 + dilation))
        let (n, c, h, w, m, k) = (2, 3 * groups, 9, 7, 2 * groups, 3)
        let x = (0..<(n * c * h * w)).map { _ in Float.random(in: -1...1, using: &g) }
        let kernel = (0..<(m * (c / groups) * k * k)).map { _ in Float.random(in: -1...1, using: &g) }
        let pads: [Int64] = [Int64(padTop), Int64(padLeft), 1, 0]
        let node = GraphNode(name: "conv", op: "Conv", inputs: ["x", "w"], outputs: ["y"],
                             attributes: ["group": .int(Int64(groups)), "strides": .ints([Int64(stride), Int64(stride)]),
                                          "dilations": .ints([Int64(dilation), Int64(dilation)]), "pads": .ints(pads)])
        let graph = GraphModel(opset: 13, source: "test", inputName: "x", inputShape: [c, h, w], outputName: "y", nodes: [node],
                               initializers: ["w": [m, c / groups, k, k]], integerConstants: [:])
        let engine = try GraphEngine(graph: graph, weights: ["w": Tensor(shape: [m, c / groups, k, k], data: kernel)])
        let got = try engine.run(x, batch: n)
        let oh = (h + padTop + 1 - (k - 1) * dilation - 1) / stride + 1, ow = (w + padLeft - (k - 1) * dilation - 1) / stride + 1
        #expect(got.shape == [n, m, oh, ow])
        let cg = c / groups, mg = m / groups
        var worst: Double = 0
        for b in 0..<n { for o in 0..<m { for oy in 0..<oh { for ox in 0..<ow {
            var s: Double = 0, magnitude: Double = 0
            let group = o / mg
            for ci in 0..<cg { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride - padTop + ky * dilation, ix = ox * stride - padLeft + kx * dilation
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let p = Double(x[((b * c + group * cg + ci) * h + iy) * w + ix]) * Double(kernel[((o * cg + ci) * k + ky) * k + kx])
                s += p; magnitude += abs(p)
            } } }
            let v = Double(got.data[((b * m + o) * oh + oy) * ow + ox])
            // Float32 accumulation of cg·k² terms: at most that many ε of the magnitude.
            worst = max(worst, abs(v - s) / (Double(cg * k * k) * 6e-8 * max(magnitude, 1e-30)))
        } } } }
        #expect(worst <= 1, "error exceeds K·ε·Σ|xw| by a factor \(worst)")
    }
}
