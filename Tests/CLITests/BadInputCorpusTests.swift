import Foundation
import Neural
import Testing
import _TestSupport

/// The committed bad-input corpus (`Tests/Fixtures/bad-inputs/cases.json`, written by
/// `Scripts/make_bad_inputs.py`): every case runs through the built tool and must give its
/// exit code, with its message fragment on stderr, and never a crash.
@Suite(.serialized) struct BadInputCorpusTests {
    struct Case: Decodable, CustomTestStringConvertible, Sendable {
        var name: String
        var command: [String]
        var exit: Int32
        var message: String
        var testDescription: String { name }
    }

    static let corpus = TestPaths.fixtures.appendingPathComponent("bad-inputs")
    static let cases: [Case] = {
        guard let data = try? Data(contentsOf: corpus.appendingPathComponent("cases.json")),
              let cases = try? JSONDecoder().decode([Case].self, from: data) else { return [] }
        return cases
    }()

    /// A small valid convolutional bundle; its layer indices are the ones cases.json edits.
    static func baseModel(at url: URL) throws {
        let spec = ModelSpec(name: "corpus", inputShape: [96, 96, 3], layers: [
            .conv("c1", 4, bias: false), .batchNorm("bn1"), .relu("r1"), .maxPool("p1"), .globalAveragePool("gap"),
            .dropout("d1", rate: 0.1), .dense("logit", 1),
        ])
        let network = try Network<Float>(spec: spec, seed: 1)
        let manifest = ModelManifest(name: "corpus", architecture: spec, micronsPerPixel: 0.972,
                                     normalization: InputNormalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]), threshold: 0.5)
        try ModelBundle(manifest: manifest, network: network).save(to: url)
    }

    /// Applies one edit (see Scripts/make_bad_inputs.py) to a copy of the base bundle.
    static func editedBundle(_ edit: String, in dir: URL, base: URL) throws -> URL {
        let url = dir.appendingPathComponent("edited-\(UUID().uuidString).hsmodel")
        try FileManager.default.copyItem(at: base, to: url)
        let (key, value) = { () -> (String, String) in
            let parts = edit.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }()
        func bytes(_ text: String) -> Data {
            var out = Data()
            var i = text.startIndex
            while i < text.endIndex {
                if text[i...].hasPrefix("\\x"), let v = UInt8(text[text.index(i, offsetBy: 2)..<text.index(i, offsetBy: 4)], radix: 16) {
                    out.append(v); i = text.index(i, offsetBy: 4)
                } else {
                    out.append(contentsOf: Array(String(text[i]).utf8)); i = text.index(after: i)
                }
            }
            return out
        }
        if key == "delete" {
            try FileManager.default.removeItem(at: url.appendingPathComponent(value))
        } else if key == "model.json" || key == "weights.safetensors" {
            try bytes(value).write(to: url.appendingPathComponent(key))
        } else if key.hasPrefix("json.") {
            let jsonURL = url.appendingPathComponent("model.json")
            let root = try JSONSerialization.jsonObject(with: Data(contentsOf: jsonURL))
            let newValue = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
            func set(_ node: Any, _ path: ArraySlice<Substring>) -> Any {
                guard let head = path.first else { return newValue }
                if var array = node as? [Any], let i = Int(head) { array[i] = set(array[i], path.dropFirst()); return array }
                var object = node as? [String: Any] ?? [:]
                object[String(head)] = set(object[String(head)] ?? [String: Any](), path.dropFirst())
                return object
            }
            let edited = set(root, key.dropFirst(5).split(separator: ".")[...])
            try JSONSerialization.data(withJSONObject: edited).write(to: jsonURL)
        } else if key.hasPrefix("tensor.") {
            let name = String(key.dropFirst(7))
            let weightsURL = url.appendingPathComponent("weights.safetensors")
            var tensors = try Safetensors.decode([UInt8](Data(contentsOf: weightsURL)), path: "", as: Float.self).tensors
            switch value {
            case "delete": tensors[name] = nil
            case "nan": tensors[name]!.data[0] = .nan
            case "shape5": tensors[name] = Tensor(shape: [5, 1])
            default: tensors[name]!.data[0] = Float(value)!
            }
            try Data(Safetensors.encode(tensors)).write(to: weightsURL)
        }
        return url
    }

    @Test func theCorpusHasAtLeastAHundredCases() {
        #expect(Self.cases.count >= 100)
    }

    @Test(arguments: cases) func badInput(_ c: Case) throws {
        let dir = TemporaryDirectory()
        let fm = FileManager.default
        let base = dir.file("base.hsmodel")
        try Self.baseModel(at: base)
        let files = dir.file("files")
        try fm.createDirectory(at: files, withIntermediateDirectories: true)
        let mini = TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path
        let work = dir.file("work")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        func substitute(_ text: String) -> String {
            text.replacingOccurrences(of: "{fixtures}", with: TestPaths.fixtures.path).replacingOccurrences(of: "{mini}", with: mini)
        }
        // The corpus files, with the fixture paths filled into the CSVs.
        for name in try fm.contentsOfDirectory(atPath: Self.corpus.appendingPathComponent("files").path) {
            let source = Self.corpus.appendingPathComponent("files/\(name)")
            if name.hasSuffix(".csv"), let text = try? String(contentsOf: source, encoding: .utf8) {
                try substitute(text).write(to: files.appendingPathComponent(name), atomically: true, encoding: .utf8)
            } else {
                try fm.copyItem(at: source, to: files.appendingPathComponent(name))
            }
        }
        var arguments: [String] = []
        for argument in c.command {
            var a = substitute(argument).replacingOccurrences(of: "{cmu}", with: TestPaths.cmuSlide.path)
                .replacingOccurrences(of: "{model}", with: base.path).replacingOccurrences(of: "{tmp}", with: work.path)
            if let r = a.range(of: #"\{file:([^}]+)\}"#, options: .regularExpression) {
                let name = a[r].dropFirst(6).dropLast()
                a.replaceSubrange(r, with: files.appendingPathComponent(String(name)).path)
            }
            if a.hasPrefix("{damaged:") {
                let kind = String(a.dropFirst(9).dropLast())
                let url = dir.file("\(kind).svs")
                try CorruptCopies.write(TestPaths.cmuSlide, try #require(CorruptCopies.Damage(rawValue: kind)), to: url)
                a = url.path
            }
            if a.hasPrefix("{bundle:") {
                a = try Self.editedBundle(String(a.dropFirst(8).dropLast()), in: dir.url, base: base).path
            }
            arguments.append(a)
        }
        let result = try CLI.run(arguments, in: work)
        #expect(result.status == c.exit, "\(c.name): exit \(result.status)\n\(result.stderr)")
        #expect(c.message.isEmpty || result.stderr.contains(c.message), "\(c.name): stderr lacks '\(c.message)':\n\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Backtrace"), "\(c.name) crashed")
    }
}
