import Foundation
import Imaging
import Neural

/// One labelled patch of a dataset.
public struct PatchRecord: Sendable, Equatable {
    /// The identifier: the Kaggle id, or the path relative to the dataset root.
    public var id: String
    public var path: String
    /// 1 = tumour in the centre 32×32 px, 0 = none.
    public var label: Int
    /// The slide or patient the patch came from, when the dataset says.
    public var group: String?
}

/// Why a dataset could not be read. Messages name the file.
public struct DatasetError: FileProblem, Equatable {
    public var path: String
    public var problem: String
    public var hint: String?
    public init(path: String, problem: String, hint: String? = nil) {
        self.path = path
        self.problem = problem
        self.hint = hint
    }
}

/// A labelled patch dataset in one of three layouts:
/// - Kaggle: a folder of `<id>.tif` (or `.png`, `.jpg`) and a CSV with columns `id,label` (for example
///   `pcam-kaggle/` holding `train/` and `train_labels.csv`);
/// - seed: a folder with `pos/` and `neg/` (or `1/` and `0/`) subfolders of images;
/// - CSV: a file with columns `path,label` (paths relative to the CSV's folder).
/// A CSV may carry a group column (`slide`, `patient` or `group`) for grouped splits.
public struct PatchDataset: Sendable {
    public enum Layout: String, Sendable, Codable { case kaggle, seed, csv }

    public var root: String
    public var layout: Layout
    /// Sorted by id.
    public var records: [PatchRecord]
    /// Files listed in the labels but absent on disk (only when opened with `skipMissing`).
    public var missing: [String]

    /// The patch edge the engine expects.
    public static let patchSize = 96

    public var positives: Int { records.filter { $0.label == 1 }.count }
    public var negatives: Int { records.count - positives }

    /// Opens a dataset, detecting its layout. Image pixels are not read yet (see `loadPixels`).
    /// - Parameter skipMissing: go on when listed files are missing (they are counted in
    ///   `missing`); otherwise a missing file is an error that gives the count.
    public static func open(_ path: String, skipMissing: Bool = false) throws(DatasetError) -> PatchDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError(path: path, problem: "no such dataset")
        }
        var dataset: PatchDataset
        if isDirectory.boolValue {
            dataset = try openFolder(path, skipMissing: skipMissing)
        } else {
            dataset = try openCSV(path, skipMissing: skipMissing)
        }
        try dataset.validate()
        return dataset
    }

    private static func openFolder(_ path: String, skipMissing: Bool) throws(DatasetError) -> PatchDataset {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for (positive, negative) in [("pos", "neg"), ("1", "0")] where names.contains(positive) && names.contains(negative) {
            var records: [PatchRecord] = []
            for (folder, label) in [(negative, 0), (positive, 1)] {
                let dir = (path as NSString).appendingPathComponent(folder)
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter(isImageName).sorted()
                records += files.map { PatchRecord(id: "\(folder)/\($0)", path: (dir as NSString).appendingPathComponent($0), label: label) }
            }
            return PatchDataset(root: path, layout: .seed, records: records.sorted { $0.id < $1.id }, missing: [])
        }
        let csvs = names.filter { $0.lowercased().hasSuffix(".csv") && $0.lowercased().contains("label") }.sorted()
        guard let csv = csvs.first else {
            throw DatasetError(path: path, problem: "no pos/neg or 1/0 subfolders and no labels CSV",
                               hint: "give a Kaggle folder (<id>.tif files and an id,label CSV), a folder with pos/ and neg/, or a path,label CSV")
        }
        return try openCSV((path as NSString).appendingPathComponent(csv), skipMissing: skipMissing)
    }

    private static func openCSV(_ path: String, skipMissing: Bool) throws(DatasetError) -> PatchDataset {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DatasetError(path: path, problem: "cannot read the CSV as UTF-8 text")
        }
        let rows = CSV.parse(text)
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) else {
            throw DatasetError(path: path, problem: "the CSV is empty")
        }
        guard let labelColumn = header.firstIndex(of: "label") else {
            throw DatasetError(path: path, problem: "the CSV has no 'label' column (columns: \(header.joined(separator: ", ")))")
        }
        let groupColumn = ["slide", "patient", "group"].lazy.compactMap { header.firstIndex(of: $0) }.first
        let base = (path as NSString).deletingLastPathComponent
        let layout: Layout
        let keyColumn: Int
        var imageDir = base
        if let p = header.firstIndex(of: "path") {
            layout = .csv
            keyColumn = p
        } else if let i = header.firstIndex(of: "id") {
            layout = .kaggle
            keyColumn = i
            // Kaggle: train_labels.csv goes with train/; otherwise the images sit beside the CSV.
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            let prefix = stem.replacingOccurrences(of: "_labels", with: "").replacingOccurrences(of: "labels", with: "")
            let candidate = (base as NSString).appendingPathComponent(prefix)
            var isDir: ObjCBool = false
            if !prefix.isEmpty, FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), isDir.boolValue {
                imageDir = candidate
            }
        } else {
            throw DatasetError(path: path, problem: "the CSV needs an 'id' (Kaggle layout) or 'path' column")
        }

        // Kaggle ids name no extension: each is looked up among the folder's images, so a set
        // may mix .tif, .png and .jpg files (a listed id without a file is reported as missing).
        var imageNames: [String: String] = [:]
        if layout == .kaggle {
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: imageDir)) ?? []).sorted() where isImageName(name) {
                let stem = (name as NSString).deletingPathExtension
                if imageNames[stem] == nil || name.lowercased().hasSuffix(".tif") { imageNames[stem] = name }
            }
        }
        var byID: [String: PatchRecord] = [:]
        var missing: [String] = []
        for (index, row) in rows.dropFirst().enumerated() where !(row.count == 1 && row[0].isEmpty) {
            let line = index + 2
            guard row.count > max(keyColumn, labelColumn) else {
                throw DatasetError(path: path, problem: "line \(line) has \(row.count) fields; the header has \(header.count)")
            }
            let key = row[keyColumn].trimmingCharacters(in: .whitespaces)
            let labelText = row[labelColumn].trimmingCharacters(in: .whitespaces)
            guard let label = Int(labelText), label == 0 || label == 1 else {
                throw DatasetError(path: path, problem: "line \(line): label '\(labelText)' for '\(key)' is not 0 or 1")
            }
            let file: String
            if layout == .kaggle {
                file = (imageDir as NSString).appendingPathComponent(isImageName(key) ? key : imageNames[key] ?? "\(key).tif")
            } else {
                file = key.hasPrefix("/") ? key : (base as NSString).appendingPathComponent(key)
            }
            let group = groupColumn.flatMap { $0 < row.count ? row[$0] : nil }
            let record = PatchRecord(id: key, path: file, label: label, group: group)
            if let existing = byID[key] {
                guard existing.label == label else {
                    throw DatasetError(path: path, problem: "'\(key)' is listed twice with conflicting labels (\(existing.label) and \(label))")
                }
                continue  // an exact duplicate row: kept once
            }
            guard FileManager.default.fileExists(atPath: file) else {
                missing.append(file)
                continue
            }
            byID[key] = record
        }
        if !missing.isEmpty && !skipMissing {
            let shown = missing.prefix(3).joined(separator: ", ")
            throw DatasetError(path: path, problem: "\(missing.count) listed file\(missing.count == 1 ? " is" : "s are") missing, e.g. \(shown)",
                               hint: "fix the paths, or pass --skip-missing to go on without them (they are counted in the report)")
        }
        return PatchDataset(root: path, layout: layout, records: byID.values.sorted { $0.id < $1.id }, missing: missing)
    }

    private func validate() throws(DatasetError) {
        guard !records.isEmpty else { throw DatasetError(path: root, problem: "the dataset holds no patches") }
        if positives == 0 { throw DatasetError(path: root, problem: "class 1 (tumour) is empty: every patch is labelled 0") }
        if negatives == 0 { throw DatasetError(path: root, problem: "class 0 (no tumour) is empty: every patch is labelled 1") }
    }

    static func isImageName(_ name: String) -> Bool {
        let lower = name.lowercased()
        return imageExtensions.contains { lower.hasSuffix($0) }
    }

    /// The patch formats read: TIFF, PNG and JPEG, mixed freely within a dataset.
    public static let imageExtensions = [".tif", ".tiff", ".png", ".jpg", ".jpeg"]

    /// Decodes the patches at `indices` as RGB bytes, `[count][96][96][3]`, checking that each
    /// is a 96×96 8-bit RGB(A) TIFF, PNG or JPEG. Reads on all cores.
    public func loadPixels(_ indices: [Int]) throws(DatasetError) -> [UInt8] {
        let size = Self.patchSize * Self.patchSize * 3
        var pixels = [UInt8](repeating: 0, count: indices.count * size)
        nonisolated(unsafe) var failure: DatasetError?
        let lock = NSLock()
        pixels.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let base = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: max(1, ProcessInfo.processInfo.activeProcessorCount)) { worker in
                let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
                for k in stride(from: worker, to: indices.count, by: workers) {
                    let record = records[indices[k]]
                    do {
                        let raster = try Self.readPatch(record.path)
                        raster.pixels.withUnsafeBufferPointer { src in
                            (base + k * size).update(from: src.baseAddress!, count: size)
                        }
                    } catch {
                        lock.lock()
                        if failure == nil { failure = error as? DatasetError }
                        lock.unlock()
                    }
                }
            }
        }
        if let failure { throw failure }
        return pixels
    }

    /// Reads one patch as 96×96 RGB.
    public static func readPatch(_ path: String) throws(DatasetError) -> Raster {
        let url = URL(fileURLWithPath: path)
        let raster: Raster
        do {
            let lower = path.lowercased()
            if lower.hasSuffix(".png") {
                raster = try PNG.read(url).toRGB()
            } else if lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") {
                raster = try JPEG.read(url)
            } else {
                raster = try TIFFImage.read(url).raster.toRGB()
            }
        } catch {
            throw DatasetError(path: path, problem: "unreadable image: \(error)")
        }
        guard raster.width == patchSize && raster.height == patchSize else {
            throw DatasetError(path: path, problem: "the patch is \(raster.width)×\(raster.height) px; expected \(patchSize)×\(patchSize)")
        }
        return raster
    }
}

/// A small RFC 4180 CSV reader: quoted fields, doubled quotes, CRLF or LF line ends.
public enum CSV {
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        while let c = next() {
            if quoted {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = n }
                    } else { quoted = false }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r", let n = next(), n != "\n" { pending = n }
                row.append(field); field = ""
                rows.append(row); row = []
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// Quotes a field when it holds a comma, quote or line break.
    public static func escape(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
