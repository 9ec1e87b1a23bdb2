import Foundation
import Imaging
import Testing
import Training
import _TestSupport

@Suite struct DatasetManifestTests {
    let dir = TemporaryDirectory()
    static let tifIDs = ["0043c12289c78106346614caf7bd1a525f40b1d7", "0011a007b64a4a0f351ee4d7d00f237b1713b9bf"]
    static let jpegIDs = ["0000a341cee8eb5f97e5a7c6c9e0b02b4cc81c40", "00d83693be2fb044e9cdd346606b4ed85d81b459"]

    /// A Kaggle-layout folder whose ids are TIFF, PNG and JPEG files.
    func mixedKaggle(_ name: String) throws -> URL {
        let root = dir.file(name), train = root.appendingPathComponent("train")
        try FileManager.default.createDirectory(at: train, withIntermediateDirectories: true)
        let fm = FileManager.default
        try fm.copyItem(at: TestPaths.samples.appendingPathComponent("patches/\(Self.tifIDs[0]).tif"),
                        to: train.appendingPathComponent("\(Self.tifIDs[0]).tif"))
        try fm.copyItem(at: TestPaths.fixtures.appendingPathComponent("pcam-patch.png"), to: train.appendingPathComponent("pngpatch.png"))
        for id in Self.jpegIDs {
            try fm.copyItem(at: TestPaths.fixtures.appendingPathComponent("pcam-jpeg/\(id).jpg"), to: train.appendingPathComponent("\(id).jpg"))
        }
        let csv = "id,label\n\(Self.tifIDs[0]),1\npngpatch,1\n\(Self.jpegIDs[0]),0\n\(Self.jpegIDs[1]),1\n"
        try csv.write(to: root.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        return root
    }

    @Test func kaggleFolderMixesFormats() throws {
        let data = try PatchDataset.open(try mixedKaggle("mixed").path)
        #expect(data.records.count == 4)
        #expect(Set(data.records.map { ($0.path as NSString).pathExtension }) == ["tif", "png", "jpg"])
        let pixels = try data.loadPixels(Array(data.records.indices))
        #expect(pixels.count == 4 * 96 * 96 * 3)
        // pcam-patch.png holds the same pixels as the TIFF patch.
        let tif = data.records.firstIndex { $0.path.hasSuffix(".tif") }!, png = data.records.firstIndex { $0.path.hasSuffix(".png") }!
        let plane = 96 * 96 * 3
        #expect(pixels[(tif * plane)..<((tif + 1) * plane)] == pixels[(png * plane)..<((png + 1) * plane)])
    }

    @Test func truncatedJPEGInADatasetNamesTheFile() throws {
        let root = try mixedKaggle("damaged")
        let victim = root.appendingPathComponent("train/\(Self.jpegIDs[1]).jpg")
        let bytes = try Data(contentsOf: victim)
        try bytes.prefix(bytes.count / 2).write(to: victim)
        let data = try PatchDataset.open(root.path)
        #expect {
            _ = try data.loadPixels(Array(data.records.indices))
        } throws: { error in
            "\(error)".contains(victim.lastPathComponent)
        }
    }

    /// Roles from a manifest: whole datasets, a split's subsets remapped, and a split kept as is.
    @Test func manifestRoles() throws {
        _ = try mixedKaggle("setA")
        let b = try mixedKaggle("setB")
        // A split of setB: two val, two test (labels as the dataset has them).
        let bData = try PatchDataset.open(b.path)
        var rows = ["id,label,subset"]
        for (k, r) in bData.records.enumerated() { rows.append("\(r.id),\(r.label),\(k % 2 == 0 ? "val" : "test")") }
        try (rows.joined(separator: "\n") + "\n").write(to: dir.file("b-split.csv"), atomically: true, encoding: .utf8)
        let manifest = dir.file("datasets.csv")
        try "path,role,split,subsets\nsetA,train,,\nsetB,split,b-split.csv,\n".write(to: manifest, atomically: true, encoding: .utf8)
        let (data, assignment, contributions) = try DatasetManifest.read(manifest.path).load()
        #expect(data.records.count == 8)
        #expect(data.records.allSatisfy { $0.id.hasPrefix("setA/") || $0.id.hasPrefix("setB/") })
        #expect(assignment.indices(of: .train, in: data).count == 4)
        #expect(assignment.indices(of: .validation, in: data).count == 2)
        #expect(assignment.indices(of: .test, in: data).count == 2)
        #expect(contributions.map(\.train) == [4, 0] && contributions.map(\.validation) == [0, 2])

        // Only the val subset of setB, used for training: the test half stays out.
        try "path,role,split,subsets\nsetB,train,b-split.csv,val\n".write(to: manifest, atomically: true, encoding: .utf8)
        let (only, onlySplit, _) = try DatasetManifest.read(manifest.path).load()
        #expect(onlySplit.indices(of: .train, in: only).count == 2 && onlySplit.assignments.count == 2)
        #expect(only.records.first?.id.contains("/") == false)  // one dataset keeps its own ids
    }

    /// Entries resolve against the manifest's folder, with ".." folded, so that a bundle's
    /// provenance names the datasets as a user at the repository root would.
    @Test(arguments: [
        ("Samples/datasets", "../../../shared/data/pcam-kaggle", "../shared/data/pcam-kaggle"),
        ("Samples/datasets", "../../.data/pcam-more/x", ".data/pcam-more/x"),
        ("Samples/datasets", "../models/split.csv", "Samples/models/split.csv"),
        ("Samples/datasets", "./a/./b/", "Samples/datasets/a/b"),
        ("Samples", "..", "."),
        ("", "../x", "../x"),
        ("/data/sets", "../../../x", "/x"),
        ("/data/sets", "/elsewhere/../y", "/elsewhere/../y"),
    ])
    func entriesResolveAgainstTheManifestFolder(base: String, entry: String, expected: String) {
        #expect(DatasetManifest.resolve(entry, against: base) == expected)
    }

    @Test func manifestErrorsNameTheLineAndThePatch() throws {
        _ = try mixedKaggle("setA")
        let manifest = dir.file("bad.csv")
        func problem(_ text: String) -> String {
            try! text.write(to: manifest, atomically: true, encoding: .utf8)
            do { _ = try DatasetManifest.read(manifest.path).load(); return "loaded" } catch { return error.description }
        }
        #expect(problem("path,role\nsetA,training\n").contains("line 2: role 'training'"))
        #expect(problem("path,role\nsetA,split\n").contains("needs a split file"))
        #expect(problem("path\nsetA\n").contains("columns path and role"))
        #expect(problem("path,role\n").contains("lists no datasets"))
        // One patch may not serve two purposes.
        let twice = problem("path,role\nsetA,train\nsetA,val\n")
        #expect(twice.contains("two roles") && twice.contains("train") && twice.contains("val"))
        #expect(problem("path,role\nnowhere,train\n").contains("nowhere: no such dataset"))
    }
}
