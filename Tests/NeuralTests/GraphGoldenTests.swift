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
        // The plain loops alone; the kernel layer on NCHW input; and on channels-last input one
        // image per chunk, so that chunks are joined.
        let reference = try GraphEngine(graph: graph, weights: weights, fastKernels: false)
        let fast = try GraphEngine(graph: graph, weights: weights)
        var results = [("plain loops", try reference.run(golden.input, batch: golden.inputShape[0])),
                       ("kernels", try fast.run(golden.input, batch: golden.inputShape[0]))]
        if golden.inputShape.count == 4 {
            let (n, c, h, w) = (golden.inputShape[0], golden.inputShape[1], golden.inputShape[2], golden.inputShape[3])
            var nhwc = [Float](repeating: 0, count: golden.input.count)
            for b in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
                nhwc[((b * h + y) * w + x) * c + ch] = golden.input[((b * c + ch) * h + y) * w + x]
            } } } }
            fast.imagesPerChunk = 1
            results.append(("kernels, channels-last, one image per chunk", try nhwc.withUnsafeBufferPointer { try fast.run(channelsLast: $0.baseAddress!, batch: n) }))
        }
        for (what, result) in results {
            #expect(result.shape == golden.outputShape, "\(name), \(what)")
            var worst: Float = 0
            for (a, b) in zip(result.data, golden.output) { worst = max(worst, abs(a - b) / (1 + abs(b))) }
            #expect(worst <= 1e-4, "\(name), \(what): worst scaled difference \(worst)")
        }
    }

    /// Each way the kernel layer runs a convolution (its plan), chosen by shape, against a
    /// direct loop in double. The bound is 16·K·ε·Σ|xw| for K products per output: K·ε·Σ|xw|
    /// for a float32 sum, times up to 16 by which Winograd's transforms can scale one product's
    /// rounding (the C driver, Tests/CKernelsDriver, checks each kernel's exact bound). An
    /// indexing, padding or layout error is of the size of the values, far above it.
    @Test(arguments: [
        // c, h, w, m, kernel, stride, dilation, pads (top, left, bottom, right), groups, plan
        (16, 8, 8, 32, 3, 1, 1, [1, 1, 1, 1], 1, "winograd"),
        (8, 13, 13, 32, 3, 1, 1, [1, 1, 1, 1], 1, "direct"),
        (3, 40, 40, 64, 7, 2, 1, [3, 3, 3, 3], 1, "direct"),
        (16, 30, 30, 32, 1, 2, 1, [0, 0, 0, 0], 1, "direct"),
        (8, 26, 26, 32, 3, 1, 2, [2, 2, 2, 2], 1, "direct"),
        (4, 14, 15, 32, 3, 1, 1, [2, 0, 1, 1], 1, "direct"),
        (24, 5, 5, 32, 1, 1, 1, [0, 0, 0, 0], 1, "gemm"),
        (32, 3, 3, 64, 3, 1, 1, [1, 1, 1, 1], 1, "gemm"),
        (24, 11, 11, 24, 3, 2, 1, [1, 1, 1, 1], 24, "depthwise"),
        (5, 13, 13, 20, 3, 1, 1, [1, 1, 1, 1], 1, "direct"),  // 20 output channels, computed as 32
        (7, 5, 5, 40, 1, 1, 1, [0, 0, 0, 0], 1, "gemm"),  // 40, computed as 64
        (8, 9, 9, 64, 3, 1, 1, [1, 1, 1, 1], 2, "none"),
    ] as [(Int, Int, Int, Int, Int, Int, Int, [Int], Int, String)])
    func convolutionPlansMatchPlainLoops(_ c: Int, _ h: Int, _ w: Int, _ m: Int, _ k: Int, _ stride: Int, _ dilation: Int,
                                         _ pads: [Int], _ groups: Int, _ expected: String) throws {
        var g = SplitMix64(seed: UInt64(c * 1000 + h * 10 + k))
        let n = 3, cg = c / groups, mg = m / groups
        let x = (0..<(n * c * h * w)).map { _ in Float.random(in: -1...1, using: &g) }
        let kernel = (0..<(m * cg * k * k)).map { _ in Float.random(in: -1...1, using: &g) }
        let bias = (0..<m).map { _ in Float.random(in: -1...1, using: &g) }
        let conv = GraphNode(name: "conv", op: "Conv", inputs: ["x", "w", "b"], outputs: ["c"],
                             attributes: ["group": .int(Int64(groups)), "strides": .ints([Int64(stride), Int64(stride)]),
                                          "dilations": .ints([Int64(dilation), Int64(dilation)]), "pads": .ints(pads.map { Int64($0) })])
        let relu = GraphNode(name: "relu", op: "Relu", inputs: ["c"], outputs: ["y"], attributes: [:])
        let graph = GraphModel(opset: 13, source: "test", inputName: "x", inputShape: [c, h, w], outputName: "y", nodes: [conv, relu],
                               initializers: ["w": [m, cg, k, k], "b": [m]], integerConstants: [:])
        let engine = try GraphEngine(graph: graph, weights: ["w": Tensor(shape: [m, cg, k, k], data: kernel), "b": Tensor(shape: [m], data: bias)])
        let plan = engine.plans["conv"].map { "\($0.kernel)" } ?? "none"
        if expected == "winograd" && !KernelSet.winograd {
            // `HISTOSCREEN_CONV=direct` (a user switch) turns Winograd off. Whether an 8-pixel-wide
            // map then runs direct or as GEMM depends on the kernel set's register tile.
            #expect(plan == "direct" || plan == "gemm")
        } else {
            #expect(plan == expected)
        }
        #expect(engine.fusedRelu == ["conv"])
        engine.imagesPerChunk = 2  // two chunks, joined
        let got = try engine.run(x, batch: n)
        let span = (k - 1) * dilation + 1
        let oh = (h + pads[0] + pads[2] - span) / stride + 1, ow = (w + pads[1] + pads[3] - span) / stride + 1
        #expect(got.shape == [n, m, oh, ow])
        var worst: Double = 0
        for b in 0..<n { for o in 0..<m { for oy in 0..<oh { for ox in 0..<ow {
            var s = Double(bias[o]), magnitude = abs(Double(bias[o]))
            let group = o / mg
            for ci in 0..<cg { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride - pads[0] + ky * dilation, ix = ox * stride - pads[1] + kx * dilation
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let p = Double(x[((b * c + group * cg + ci) * h + iy) * w + ix]) * Double(kernel[((o * cg + ci) * k + ky) * k + kx])
                s += p; magnitude += abs(p)
            } } }
            let v = Double(got.data[((b * m + o) * oh + oy) * ow + ox])
            worst = max(worst, abs(v - max(s, 0)) / (16 * Double(cg * k * k + 1) * 6e-8 * magnitude))
        } } } }
        #expect(worst <= 1, "\(expected): error exceeds 16·K·ε·Σ|xw| by a factor \(worst)")
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
