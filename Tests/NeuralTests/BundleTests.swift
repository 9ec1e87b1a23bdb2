import Foundation
import Neural
import Testing
import _TestSupport

@Suite struct SafetensorsTests {
    @Test func roundTrip() throws {
        let tensors: [String: Tensor<Float>] = [
            "a.kernel": TestTensors.uniform([2, 3, 4], seed: 1), "b": Tensor(shape: [0]), "c.bias": TestTensors.uniform([5], seed: 2),
        ]
        let bytes = Safetensors.encode(tensors, metadata: ["k": "v"])
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        #expect((8 + headerLength) % 8 == 0)
        let (back, metadata) = try Safetensors.decode(bytes, path: "t", as: Float.self)
        #expect(back == tensors)
        #expect(metadata == ["k": "v"])
        // Float64 files are converted on load.
        let doubles = Safetensors.encode(["x": Tensor<Double>(shape: [2], data: [0.5, -3])])
        #expect(try Safetensors.decode(doubles, path: "t", as: Float.self).tensors["x"]!.data == [0.5, -3])
    }

    static func header(_ json: String, data: Int = 0) -> [UInt8] {
        var out = [UInt8]()
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        return out + Array(json.utf8) + [UInt8](repeating: 0, count: data)
    }

    @Test(arguments: [
        ([UInt8]([1, 2, 3]), "shorter than the 8-byte header"),
        (header("{}", data: 0).prefix(7).map { $0 } + [], "shorter"),
        ([255, 255, 255, 255, 0, 0, 0, 0, 0x7B, 0x7D], "does not fit"),
        (header("[1,2]"), "not a JSON object"),
        (header(#"{"w":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, data: 1), "dtype I8"),
        (header(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: 4), "8 bytes as F32"),
        (header(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: 2), "outside"),
        (header(#"{"w":{"dtype":"F32","shape":[1]}}"#, data: 4), "lacks"),
        (header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8), "overlap"),
    ])
    func rejectsMalformedFiles(bytes: [UInt8], phrase: String) {
        #expect {
            try Safetensors.decode(bytes, path: "bad.safetensors", as: Float.self)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("bad.safetensors: bad safetensors file:") && text.contains(phrase)
        }
    }
}

@Suite struct ModelBundleTests {
    let dir = TemporaryDirectory()
    let spec = ModelSpec(name: "tiny", inputShape: [8, 8, 3], layers: [
        .conv("c1", 4, bias: false), .batchNorm("bn1"), .relu("r1"), .maxPool("p1"), .globalAveragePool("gap"), .dense("logit", 1),
    ])

    func saved() throws -> URL {
        let net = try Network<Float>(spec: spec, seed: 5)
        let manifest = ModelManifest(name: "tiny", architecture: spec, micronsPerPixel: 0.972, normalization: .unit,
                                     threshold: 0.5, training: .object(["seed": .number(5)]))
        let url = dir.file("tiny.hsmodel")
        try ModelBundle(manifest: manifest, network: net).save(to: url)
        return url
    }

    @Test func roundTripPredictsTheSame() throws {
        let url = try saved()
        let original = try Network<Float>(spec: spec, seed: 5)
        let loaded = try ModelBundle.load(from: url)
        let x: Tensor<Float> = TestTensors.uniform([2, 8, 8, 3], seed: 1)
        #expect(loaded.network.predict(x) == original.predict(x))
        #expect(loaded.manifest.micronsPerPixel == 0.972)
        #expect(loaded.manifest.training?["seed"]?.number == 5)
    }

    func rewriteWeights(_ url: URL, _ change: (inout [String: Tensor<Float>]) -> Void) throws {
        let weightsURL = url.appendingPathComponent("weights.safetensors")
        var tensors = try Safetensors.decode([UInt8](Data(contentsOf: weightsURL)), path: "", as: Float.self).tensors
        change(&tensors)
        try Data(Safetensors.encode(tensors)).write(to: weightsURL)
    }

    func loadError(_ url: URL) -> String {
        do {
            _ = try ModelBundle.load(from: url)
            return "loaded"
        } catch {
            return error.description
        }
    }

    @Test func rejectsMissingTensor() throws {
        let url = try saved()
        try rewriteWeights(url) { $0["bn1.gamma"] = nil }
        #expect(loadError(url).contains("missing tensors: bn1.gamma"))
    }

    @Test func rejectsExtraTensor() throws {
        let url = try saved()
        try rewriteWeights(url) { $0["stray"] = Tensor(shape: [1]) }
        #expect(loadError(url).contains("unexpected tensors: stray"))
    }

    @Test func rejectsWrongShape() throws {
        let url = try saved()
        try rewriteWeights(url) { $0["logit.kernel"] = Tensor(shape: [5, 1]) }
        #expect(loadError(url).contains("'logit.kernel' has shape [5, 1]"))
    }

    @Test func rejectsNaN() throws {
        let url = try saved()
        try rewriteWeights(url) { $0["c1.kernel"]!.data[3] = .nan }
        #expect(loadError(url).contains("'c1.kernel' holds NaN or Inf"))
    }

    @Test func rejectsWrongDType() throws {
        let url = try saved()
        try Data(SafetensorsTests.header(#"{"c1.kernel":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#, data: 2))
            .write(to: url.appendingPathComponent("weights.safetensors"))
        #expect(loadError(url).contains("dtype BF16"))
    }

    @Test func rejectsUnknownFormatVersion() throws {
        let url = try saved()
        let jsonURL = url.appendingPathComponent("model.json")
        let text = try String(contentsOf: jsonURL, encoding: .utf8).replacingOccurrences(of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 7")
        try text.write(to: jsonURL, atomically: true, encoding: .utf8)
        let message = loadError(url)
        #expect(message.contains("format version 7"))
        #expect(message.contains("HINT:"))
    }

    @Test func rejectsBadHeaderAndMissingFiles() throws {
        let url = try saved()
        try Data([1, 2, 3]).write(to: url.appendingPathComponent("weights.safetensors"))
        #expect(loadError(url).contains("bad safetensors file"))
        try FileManager.default.removeItem(at: url.appendingPathComponent("weights.safetensors"))
        #expect(loadError(url).contains("weights.safetensors is missing"))
        #expect(loadError(dir.file("none.hsmodel")).contains("no such model bundle"))
    }
}

extension ModelBundleTests {
    /// Edits model.json's architecture as data: `layer` nil edits the input shape.
    func rewriteArchitecture(_ url: URL, layer: String?, _ key: String, _ value: Any) throws {
        let jsonURL = url.appendingPathComponent("model.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: jsonURL)) as? [String: Any])
        var architecture = try #require(json["architecture"] as? [String: Any])
        if let layer {
            var layers = try #require(architecture["layers"] as? [[String: Any]])
            let i = try #require(layers.firstIndex { $0["name"] as? String == layer })
            layers[i][key] = value
            architecture["layers"] = layers
        } else {
            architecture[key] = value
        }
        json["architecture"] = architecture
        try JSONSerialization.data(withJSONObject: json).write(to: jsonURL)
    }

    /// Values that once crashed or fooled the loader: each is now refused with the field named.
    @Test func rejectsImplausibleArchitectureValues() throws {
        let cases: [(String?, String, Any, String)] = [
            ("c1", "kernel", 0, "kernel 0"),
            ("c1", "stride", 0, "stride 0"),
            ("p1", "kernel", 0, "kernel 0"),
            ("p1", "stride", 0, "stride 0"),
            ("c1", "units", 1_000_000_000, "units 1000000000"),
            ("logit", "units", -3, "units -3"),
            ("bn1", "epsilon", -1, "epsilon -1"),
            (nil, "inputShape", [9, 9, 3], "not a square RGB patch of even side"),
            (nil, "inputShape", [8, 6, 3], "not a square RGB patch"),
            (nil, "inputShape", [16384, 16384, 3], "larger than 8192"),
        ]
        for (layer, key, value, phrase) in cases {
            let url = try saved()
            try rewriteArchitecture(url, layer: layer, key, value)
            let message = loadError(url)
            #expect(message.contains(phrase), "\(layer ?? "input") \(key) = \(value): \(message)")
            try FileManager.default.removeItem(at: url)
        }
    }

    @Test func rejectsNegativeVariance() throws {
        let url = try saved()
        try rewriteWeights(url) { $0["bn1.moving_variance"]!.data[0] = -1 }
        #expect(loadError(url).contains("variance 'bn1.moving_variance' holds -1.0"))
    }
}
