import Foundation
import Imaging
import Testing
import Training
import _TestSupport

@Suite struct DatasetTests {
    let mini = TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path
    let dir = TemporaryDirectory()

    @Test func csvLayout() throws {
        let data = try PatchDataset.open(mini)
        #expect(data.layout == .csv)
        #expect(data.records.count == 200 && data.positives == 100)
        let raster = try PatchDataset.readPatch(data.records[0].path)
        #expect(raster.width == 96 && raster.channels == 3)
    }

    /// A Kaggle folder: train/<id>.tif and train_labels.csv.
    @Test func kaggleLayout() throws {
        let root = dir.file("kaggle")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("train"), withIntermediateDirectories: true)
        var csv = "id,label\n"
        for (name, label) in [("0043c12289c78106346614caf7bd1a525f40b1d7", 1), ("0011a007b64a4a0f351ee4d7d00f237b1713b9bf", 0)] {
            try FileManager.default.copyItem(at: TestPaths.samples.appendingPathComponent("patches/\(name).tif"),
                                             to: root.appendingPathComponent("train/\(name).tif"))
            csv += "\(name),\(label)\n"
        }
        try csv.write(to: root.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        let data = try PatchDataset.open(root.path)
        #expect(data.layout == .kaggle)
        #expect(data.records.map(\.label) == [0, 1])
        #expect(try data.loadPixels([0, 1]).count == 2 * 96 * 96 * 3)
    }

    /// The seed project's layout: pos/ and neg/ folders.
    @Test func seedLayout() throws {
        let root = dir.file("seed")
        for (folder, name) in [("pos", "0043c12289c78106346614caf7bd1a525f40b1d7"), ("neg", "0011a007b64a4a0f351ee4d7d00f237b1713b9bf")] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: TestPaths.samples.appendingPathComponent("patches/\(name).tif"),
                                             to: root.appendingPathComponent("\(folder)/\(name).tif"))
        }
        let data = try PatchDataset.open(root.path)
        #expect(data.layout == .seed)
        #expect(data.positives == 1 && data.negatives == 1)
    }

    func write(_ text: String, _ name: String = "labels.csv") throws -> String {
        let url = dir.file(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func openError(_ path: String, skipMissing: Bool = false) -> String {
        do { _ = try PatchDataset.open(path, skipMissing: skipMissing); return "opened" } catch { return error.description }
    }

    var patchPath: String { TestPaths.samples.appendingPathComponent("patches/0043c12289c78106346614caf7bd1a525f40b1d7.tif").path }
    var otherPath: String { TestPaths.samples.appendingPathComponent("patches/0011a007b64a4a0f351ee4d7d00f237b1713b9bf.tif").path }

    @Test func missingFilesAreCountedAndReported() throws {
        let path = try write("path,label\n\(patchPath),1\n\(otherPath),0\n/nowhere/a.png,1\n/nowhere/b.png,0\n")
        #expect(openError(path).contains("2 listed files are missing, e.g. /nowhere/a.png"))
        #expect(openError(path).contains("HINT:"))
        let data = try PatchDataset.open(path, skipMissing: true)
        #expect(data.missing.count == 2 && data.records.count == 2)
    }

    @Test func badLabelsDuplicatesAndEmptyClasses() throws {
        #expect(openError(try write("path,label\n\(patchPath),2\n")).contains("label '2'"))
        #expect(openError(try write("path,label\n\(patchPath),1\n\(patchPath),0\n")).contains("conflicting labels"))
        #expect(openError(try write("path,label\n\(patchPath),1\n\(otherPath),1\n")).contains("class 0 (no tumour) is empty"))
        #expect(openError(try write("name,class\nx,1\n")).contains("no 'label' column"))
        // An exact duplicate row is kept once.
        let data = try PatchDataset.open(try write("path,label\n\(patchPath),1\n\(patchPath),1\n\(otherPath),0\n"))
        #expect(data.records.count == 2)
    }

    @Test func unreadableOrWrongSizeImages() throws {
        let text = dir.file("text.png")
        try "not an image".write(to: text, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.self) { try PatchDataset.readPatch(text.path) }
        let big = dir.file("big.png")
        try PNG.write(Raster(width: 100, height: 96), to: big)
        #expect {
            try PatchDataset.readPatch(big.path)
        } throws: { "\($0)".contains("100×96 px; expected 96×96") }
    }
}

@Suite struct SplitTests {
    let mini = TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path

    @Test func deterministicStratifiedAndLossless() throws {
        let data = try PatchDataset.open(mini)
        let a = try DatasetSplit.make(data, ratios: [0.7, 0.2, 0.1], seed: 5)
        let b = try DatasetSplit.make(data, ratios: [0.7, 0.2, 0.1], seed: 5)
        let c = try DatasetSplit.make(data, ratios: [0.7, 0.2, 0.1], seed: 6)
        #expect(a == b)
        #expect(a != c)
        #expect(a.assignments.count == data.records.count, "every row is assigned")
        let counts = DatasetSplit.Subset.allCases.map { a.indices(of: $0, in: data).count }
        #expect(counts == [140, 40, 20])
        for subset in DatasetSplit.Subset.allCases {
            let idx = a.indices(of: subset, in: data)
            #expect(idx.filter { data.records[$0].label == 1 }.count * 2 == idx.count, "\(subset) is stratified")
        }
    }

    @Test func csvRoundTripAndValidation() throws {
        let data = try PatchDataset.open(mini)
        let split = try DatasetSplit.make(data, ratios: [0.5, 0.25, 0.25], seed: 1)
        let dir = TemporaryDirectory()
        let path = dir.file("split.csv").path
        try split.csv(for: data).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try DatasetSplit.read(path, for: data) == split)
        try "id,label,subset\nnot-there.png,1,train\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.self) { try DatasetSplit.read(path, for: data) }
    }

    @Test func groupsStayTogether() throws {
        let dir = TemporaryDirectory()
        var csv = "path,label,slide\n"
        let base = TestPaths.fixtures.appendingPathComponent("pcam-mini")
        let data0 = try PatchDataset.open(mini)
        for (i, r) in data0.records.enumerated() { csv += "\(base.appendingPathComponent(r.id).path),\(r.label),slide\(i % 20)\n" }
        try csv.write(to: dir.file("grouped.csv"), atomically: true, encoding: .utf8)
        let data = try PatchDataset.open(dir.file("grouped.csv").path)
        let split = try DatasetSplit.make(data, ratios: [0.6, 0.2, 0.2], seed: 2, byGroup: true)
        var subsetOfSlide: [String: DatasetSplit.Subset] = [:]
        for r in data.records {
            let s = split.assignments[r.id]!
            #expect(subsetOfSlide[r.group!, default: s] == s, "slide \(r.group!) is split")
            subsetOfSlide[r.group!] = s
        }
        #expect(Set(subsetOfSlide.values).count == 3)
    }

    /// `histoscreen split` reads the user's files and writes only the split CSV.
    @Test func splitCommandNeverTouchesTheData() throws {
        let dir = TemporaryDirectory()
        let folder = TestPaths.fixtures.appendingPathComponent("pcam-mini")
        func listing() throws -> [String: Date] {
            var out: [String: Date] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
                out[name] = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.modificationDate] as? Date
            }
            return out
        }
        let before = try listing()
        let result = try CLI.run(["split", mini, "--out", dir.file("s.csv").path, "--seed", "3"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try listing() == before)
        #expect(dir.contents() == ["s.csv"])
        let rows = try String(contentsOf: dir.file("s.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 201)
    }
}
