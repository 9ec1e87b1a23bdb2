import Foundation
import Imaging
@testable import Neural
import Slides
import Testing
import _TestSupport

/// `histoscreen import`, and ONNX models in screen and evaluate, end to end.
@Suite struct ImportCommandTests {
    let dir = TemporaryDirectory()
    static let onnx = TestPaths.fixtures.appendingPathComponent("onnx")

    func importModel(_ name: String, _ extra: [String]) throws -> (CLI.Result, URL) {
        let out = dir.file("\(name).hsmodel")
        let result = try CLI.run(["import", Self.onnx.appendingPathComponent("\(name).onnx").path, "--out", out.path] + extra)
        return (result, out)
    }

    /// The imported bundle gives onnxruntime's class probabilities, before and after a save and load.
    @Test func importedBundleMatchesOnnxruntime() throws {
        let (result, out) = try importModel("classifier_softmax3", ["--model-mpp", "0.972", "--normalization", "imagenet",
                                                                    "--classes", "normal,stroma,tumour", "--positive", "tumour"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("classes normal, stroma, tumour, positive tumour"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("model.json"))) as? [String: Any])
        #expect(manifest["formatVersion"] as? Int == 2)
        #expect((manifest["graph"] as? [String: Any])?["nodes"] is [Any])
        #expect(manifest["positiveClass"] as? String == "tumour" && manifest["outputActivation"] as? String == "none")
        let bundle = try ModelBundle.load(from: out)
        let classifier = try #require(bundle.classifier() as? GraphClassifier)
        struct Golden: Decodable { var inputShape: [Int]; var input: [Float]; var output: [Float] }
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.onnx.appendingPathComponent("classifier_softmax3.json")))
        let (n, c, h, w) = (golden.inputShape[0], golden.inputShape[1], golden.inputShape[2], golden.inputShape[3])
        var nhwc = [Float](repeating: 0, count: golden.input.count)
        for b in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
            nhwc[((b * h + y) * w + x) * c + ch] = golden.input[((b * c + ch) * h + y) * w + x]
        } } } }
        let all = try nhwc.withUnsafeBufferPointer { try classifier.classProbabilities($0.baseAddress!, count: n) }
        for (a, b) in zip(all, golden.output) { #expect(abs(a - b) <= 1e-4 * (1 + abs(b))) }
        let positive = try nhwc.withUnsafeBufferPointer { try classifier.probabilities($0.baseAddress!, count: n) }
        #expect(positive == [all[2], all[5]])
        // The weights say what they hold.
        let weights = try Safetensors.decode(Array(try Data(contentsOf: out.appendingPathComponent("weights.safetensors"))), path: "w", as: Float.self)
        #expect(weights.metadata["format"] == "onnx")
        #expect(weights.tensors["w1"]?.shape == [8, 3, 3, 3])
    }

    /// `evaluate` runs an imported 96-pixel model on 200 real PCam patches and gets
    /// onnxruntime's probabilities (Scripts/make_onnx_fixtures.py computed them).
    @Test func evaluateMatchesOnnxruntimeOnRealPatches() throws {
        let (result, out) = try importModel("classifier_sigmoid96", ["--model-mpp", "0.972", "--normalization", "pcam"])
        #expect(result.status == 0, "\(result.stderr)")
        let evaluation = try CLI.run(["evaluate", out.path, TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path,
                                      "--out", dir.file("eval").path, "--quiet", "--resamples", "10"])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        struct Reference: Decodable { var paths: [String]; var probabilities: [Double] }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.onnx.appendingPathComponent("classifier_sigmoid96.pcam-mini.json")))
        let csv = try String(contentsOf: dir.file("eval/predictions.csv"), encoding: .utf8)
        let header = csv.split(separator: "\n")[0].split(separator: ",").map(String.init)
        let pathColumn = try #require(header.firstIndex { $0 == "path" || $0 == "file" || $0 == "id" }, "\(header)")
        let pColumn = try #require(header.firstIndex { $0 == "probability" }, "\(header)")
        var ours: [String: Double] = [:]
        for line in csv.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            ours[(f[pathColumn] as NSString).lastPathComponent.replacingOccurrences(of: ".png", with: "")] = Double(f[pColumn])
        }
        var worst = 0.0, compared = 0
        for (path, p) in zip(reference.paths, reference.probabilities) {
            guard let q = ours[(path as NSString).deletingPathExtension] else { continue }
            worst = max(worst, abs(p - q)); compared += 1
        }
        #expect(compared == 200, "matched \(compared) of 200 patches")
        #expect(worst <= 1e-4, "worst difference from onnxruntime \(worst)")
    }

    /// A .onnx file as --model screens the same as its imported bundle.
    @Test func screenTakesOnnxDirectly() throws {
        let (_, bundle) = try importModel("classifier_sigmoid", ["--model-mpp", "0.972", "--normalization", "pcam"])
        let slide = dir.file("squares.tiff")
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 320, height: 256), tileSize: 128, micronsPerPixel: (0.972, 0.972))
        try TestSlides.writeSquares(to: slide, writer: writer, squares: [(PixelPoint(x: 64, y: 64), PixelSize(width: 128, height: 96))], color: (120, 40, 120))
        let a = try CLI.run(["screen", slide.path, "--model", bundle.path, "--out", dir.file("a").path, "--quiet", "--stride", "32", "--min-tissue", "0"])
        let b = try CLI.run(["screen", slide.path, "--model", Self.onnx.appendingPathComponent("classifier_sigmoid.onnx").path, "--model-mpp", "0.972",
                             "--normalization", "pcam", "--out", dir.file("b").path, "--quiet", "--stride", "32", "--min-tissue", "0"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(try Data(contentsOf: dir.file("a/squares/tiles.csv")) == Data(contentsOf: dir.file("b/squares/tiles.csv")))
        let missing = try CLI.run(["screen", slide.path, "--model", Self.onnx.appendingPathComponent("classifier_sigmoid.onnx").path, "--out", dir.file("c").path])
        #expect(missing.status == 64 && missing.stderr.contains("--model-mpp"))
        let wide = try CLI.run(["screen", slide.path, "--model", bundle.path, "--out", dir.file("d").path, "--quiet", "--stride", "96"])
        #expect(wide.status == 1 && wide.stderr.contains("stride 96 does not centre in a 32-pixel window"), "\(wide.stderr)")
    }

    @Test(arguments: [
        (["classifier_softmax3"], ["--model-mpp", "0.972", "--normalization", "imagenet"], 1, "name them with --classes"),
        (["classifier_softmax3"], ["--model-mpp", "0.972", "--normalization", "imagenet", "--classes", "a,b,c"], 1, "--positive"),
        (["classifier_softmax3"], ["--model-mpp", "0.972", "--normalization", "imagenet", "--classes", "a,b,c", "--positive", "d"], 1, "--positive d is not one of a, b, c"),
        (["classifier_softmax3"], ["--model-mpp", "0.972", "--normalization", "imagenet", "--classes", "a,b"], 1, "names 2 classes for 3 outputs"),
        (["classifier_sigmoid"], ["--normalization", "imagenet"], 64, "--model-mpp"),
        (["classifier_sigmoid"], ["--model-mpp", "0.972"], 64, "--normalization"),
        (["classifier_sigmoid"], ["--model-mpp", "0.972", "--normalization", "fancy"], 64, "--normalization fancy is not"),
        (["classifier_sigmoid"], ["--model-mpp", "50", "--normalization", "pcam"], 1, "not a plausible patch resolution"),
        (["bad_unsupported_op"], ["--model-mpp", "0.972", "--normalization", "pcam"], 1, "node 'tanh_1' (Tanh): operator Tanh is not supported"),
        (["conv_basic"], ["--model-mpp", "0.972", "--normalization", "pcam"], 1, "one vector of class scores per image"),
        (["classifier_sigmoid"], ["--model-mpp", "0.972", "--normalization", "pcam", "--threshold", "1"], 64, "--threshold must be between 0 and 1"),
    ])
    func refusals(_ name: [String], _ options: [String], _ status: Int32, _ message: String) throws {
        let (result, out) = try importModel(name[0], options)
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}

extension ImportCommandTests {
    /// Built-in networks exported and read back run the same as the built-in engine (the
    /// graph engine itself is checked against onnxruntime in GraphGoldenTests; here the
    /// conversion is: HWIO to OIHW, "same" padding, and a Flatten of NHWC maps, which vgg16 has).
    @Test(arguments: ["bundled", "vgg16", "compact"])
    func exportedNetworksRunTheSame(_ which: String) throws {
        var source = TestPaths.samples.appendingPathComponent("models/histoscreen-pcam.hsmodel")
        if which != "bundled" {
            source = dir.file("\(which).hsmodel")
            let made = try CLI.run(["init-model", "--arch", which, "--out", source.path])
            #expect(made.status == 0, "\(made.stderr)")
        }
        let file = dir.file("\(which).onnx")
        let result = try CLI.run(["export", source.path, "--onnx", file.path])
        #expect(result.status == 0, "\(result.stderr)")
        let bundle = try ModelBundle.load(from: source)
        let (graph, weights) = try ONNXImport.read(Array(try Data(contentsOf: file)), path: file.path)
        #expect(graph.nodes.last?.op == "Sigmoid" && graph.opset == 13)
        #expect(weights.keys.allSatisfy { $0.hasSuffix(".weight") || $0.hasSuffix(".bias") || $0.hasSuffix(".running_mean") || $0.hasSuffix(".running_var") })
        let engine = try GraphEngine(graph: graph, weights: weights)
        var g = SplitMix64(seed: 11)
        let n = 4, side = 96
        let nhwc = (0..<(n * side * side * 3)).map { _ in Float.random(in: -2...2, using: &g) }
        var nchw = [Float](repeating: 0, count: nhwc.count)
        for b in 0..<n { for c in 0..<3 { for y in 0..<side { for x in 0..<side {
            nchw[((b * 3 + c) * side + y) * side + x] = nhwc[((b * side + y) * side + x) * 3 + c]
        } } } }
        let theirs = try engine.run(nchw, batch: n).data
        let ours = try nhwc.withUnsafeBufferPointer { try bundle.classifier().probabilities($0.baseAddress!, count: n) }
        // Probabilities (derivative ≤ 1/4 in the logit); the logits' float32 error is far below this.
        for (a, b) in zip(ours, theirs) { #expect(abs(a - b) <= 1e-4, "\(which): \(a) vs \(b)") }
    }

    /// An imported graph exports as it was imported.
    @Test func importedGraphsRoundTrip() throws {
        let (_, bundle) = try importModel("classifier_softmax3", ["--model-mpp", "0.972", "--normalization", "imagenet",
                                                                  "--classes", "normal,stroma,tumour", "--positive", "tumour"])
        let file = dir.file("again.onnx")
        #expect(try CLI.run(["export", bundle.path, "--onnx", file.path]).status == 0)
        let original = try ONNXImport.read(Array(try Data(contentsOf: Self.onnx.appendingPathComponent("classifier_softmax3.onnx"))), path: "a")
        let again = try ONNXImport.read(Array(try Data(contentsOf: file)), path: "b")
        #expect(again.graph.nodes == original.graph.nodes)
        #expect(again.weights == original.weights)
        #expect(again.graph.inputShape == original.graph.inputShape && again.graph.outputName == original.graph.outputName)
        let bad = try CLI.run(["export", dir.file("none.hsmodel").path, "--onnx", file.path])
        #expect(bad.status == 1 && bad.stderr.contains("no such model bundle"))
    }
}

extension ImportCommandTests {
    /// evaluate takes an ONNX file directly, with the same options as import.
    @Test func evaluateTakesOnnxDirectly() throws {
        let model = Self.onnx.appendingPathComponent("classifier_sigmoid96.onnx").path
        let data = TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path
        let ok = try CLI.run(["evaluate", model, data, "--model-mpp", "0.972", "--normalization", "pcam", "--out", dir.file("e").path,
                              "--quiet", "--resamples", "10"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("(the bundle's; not calibrated)"))
        let missing = try CLI.run(["evaluate", model, data, "--out", dir.file("f").path, "--quiet"])
        #expect(missing.status == 64 && missing.stderr.contains("--model-mpp"), "\(missing.stderr)")
    }

    /// calibrate gives an imported graph its two operating points and leaves its
    /// probabilities as they are (temperature 1, the weights untouched).
    @Test func calibrateChoosesOperatingPointsForAnImportedGraph() throws {
        let bundle = dir.file("graph.hsmodel"), calibrated = dir.file("graph-calibrated.hsmodel")
        let data = TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path
        #expect(try CLI.run(["import", Self.onnx.appendingPathComponent("classifier_sigmoid96.onnx").path, "--out", bundle.path,
                             "--model-mpp", "0.972", "--normalization", "pcam"]).status == 0)
        let result = try CLI.run(["calibrate", bundle.path, "--val-data", data, "--out", calibrated.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["temperature"] as? Double == 1)
        #expect(report["eceBefore"] as? Double == report["eceAfter"] as? Double)
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: calibrated.appendingPathComponent("model.json"))) as? [String: Any])
        let points = try #require(manifest["operatingPoints"] as? [String: Any])
        let screening = try #require(points["screening"] as? Double), balanced = try #require(points["balanced"] as? Double)
        #expect(manifest["threshold"] as? Double == screening)
        let validation = try #require((manifest["metrics"] as? [String: Any])?["validation"] as? [String: Any])
        #expect(try #require((validation["screening"] as? [String: Any])?["sensitivity"] as? Double) >= 0.95)
        #expect(screening <= balanced)
        #expect(try Data(contentsOf: calibrated.appendingPathComponent("weights.safetensors")) == Data(contentsOf: bundle.appendingPathComponent("weights.safetensors")))
    }
}
