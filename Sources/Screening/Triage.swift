import Foundation
import Imaging
import Neural
import Slides
import Training

/// Finds slide files in folders and manifests.
public enum SlideInputs {
    /// File extensions taken as slides when a folder is scanned.
    public static let extensions: Set<String> = ["svs", "tif", "tiff", "ndpi", "vms", "vmu", "scn", "mrxs", "svslide", "bif", "png"]

    /// Slides from folders (searched recursively, by extension) and manifests (a text file of
    /// paths, one per line, or a CSV with a `path` column; relative paths are taken from the
    /// manifest's folder). Sorted, without duplicates.
    public static func collect(_ inputs: [String]) throws(ScreenError) -> [String] {
        var found: [String] = []
        let fm = FileManager.default
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw ScreenError(path: input, problem: "no such folder or manifest")
            }
            if isDirectory.boolValue {
                guard let walker = fm.enumerator(atPath: input) else { continue }
                for case let relative as String in walker {
                    let ext = (relative as NSString).pathExtension.lowercased()
                    guard extensions.contains(ext), !(relative as NSString).lastPathComponent.hasPrefix(".") else { continue }
                    let path = (input as NSString).appendingPathComponent(relative)
                    var isDir: ObjCBool = false
                    if fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue { found.append(path) }
                }
            } else if extensions.contains((input as NSString).pathExtension.lowercased()) {
                found.append(input)
            } else {
                found += try manifest(input)
            }
        }
        return Array(Set(found)).sorted()
    }

    static func manifest(_ path: String) throws(ScreenError) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ScreenError(path: path, problem: "cannot read the manifest")
        }
        let base = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (base as NSString).appendingPathComponent(p) }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        if path.lowercased().hasSuffix(".csv") {
            let rows = CSV.parse(text).map { $0.map { $0.trimmingCharacters(in: .whitespaces) } }
            guard let header = rows.first, let column = header.firstIndex(of: "path") else {
                throw ScreenError(path: path, problem: "a CSV manifest needs a 'path' column")
            }
            return rows.dropFirst().compactMap { $0.count > column && !$0[column].isEmpty ? resolve($0[column]) : nil }
        }
        return lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }.map(resolve)
    }
}

/// Shard K of N: a deterministic partition of slides by the SHA-256 of their output name, so
/// every machine agrees on it whatever its file listing order or mount point, and one output
/// folder is only ever written by one shard.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    /// 1-based.
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws(ScreenError) {
        guard count >= 1, index >= 1, index <= count else {
            throw ScreenError(path: "--shard", problem: "\(index)/\(count) is not a shard K/N with 1 ≤ K ≤ N")
        }
        self.index = index
        self.count = count
    }

    /// Parses "K/N". Slurm array task ids and Kubernetes completion indexes are 0-based:
    /// pass `$((SLURM_ARRAY_TASK_ID + 1))/N`, or use `fromZeroBased`.
    public static func parse(_ text: String) throws(ScreenError) -> Shard {
        let parts = text.split(separator: "/").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let k = parts[0], let n = parts[1] else {
            throw ScreenError(path: "--shard", problem: "'\(text)' is not of the form K/N, e.g. 2/8")
        }
        return try Shard(index: k, count: n)
    }

    public static let all = try! Shard(index: 1, count: 1)

    public func contains(slideName: String) -> Bool {
        guard count > 1 else { return true }
        var h = SHA256()
        h.update(Data(slideName.utf8))
        let digest = h.finalize()
        let value = UInt64(digest.prefix(15), radix: 16)!
        return Int(value % UInt64(count)) == index - 1
    }

    public var description: String { "\(index)/\(count)" }
}

/// The outcome of one slide in a triage run.
public struct TriageOutcome: Sendable {
    public enum Status: String, Sendable { case screened, skipped, failed }
    public var slide: String
    public var name: String
    public var status: Status
    public var message: String?
    public var summary: ScreenSummary?
}

/// Screens many slides into one folder, skipping those already done with the same slide,
/// model and parameters, and recording failures without stopping.
public final class Triage: @unchecked Sendable {  // immutable; Screener is safe to share
    public let screener: Screener
    public let model: ScreenSummary.Model
    public let options: ScreenOptions
    public let output: OutputOptions
    public let toolVersion: String

    public init(screener: Screener, model: ScreenSummary.Model, options: ScreenOptions, output: OutputOptions = OutputOptions(),
                toolVersion: String) {
        self.screener = screener
        self.model = model
        self.options = options
        self.output = output
        self.toolVersion = toolVersion
    }

    /// Output names must be unique within a run.
    public static func checkNames(_ slides: [String]) throws(ScreenError) {
        var seen: [String: String] = [:]
        for s in slides {
            let name = ScreenWriter.slideName(s)
            if let other = seen[name] {
                throw ScreenError(path: s, problem: "has the same name as \(other), so their outputs would collide",
                                  hint: "rename one of them, or triage them into separate --out folders")
            }
            seen[name] = s
        }
    }

    /// The stored summary if it was made from this slide (same hash), model and parameters.
    public func existing(_ slide: any Slide, in directory: URL) -> ScreenSummary? {
        let url = directory.appendingPathComponent(ScreenWriter.slideName(slide.path)).appendingPathComponent("summary.json")
        guard let data = FileManager.default.contents(atPath: url.path),
              let summary = try? JSONDecoder().decode(ScreenSummary.self, from: data), summary.status == "ok" else { return nil }
        let hash = slide.metadata.quickHash1 ?? SHA256.hex(fileAt: URL(fileURLWithPath: slide.path)) ?? ""
        guard summary.slide.hash == hash, summary.model.sha256 == model.sha256, summary.parameters == options,
              (summary.output ?? OutputOptions()) == output else { return nil }
        return summary
    }

    /// Screens one slide (or skips it), writing summary or error.json. Never throws: a failure
    /// becomes an outcome.
    public func process(_ path: String, into directory: URL,
                        progress: (_ done: Int, _ total: Int, _ rate: Double) -> Void = { _, _, _ in }) -> TriageOutcome {
        let name = ScreenWriter.slideName(path)
        do {
            let slide = try openSlide(at: URL(fileURLWithPath: path))
            if let summary = existing(slide, in: directory) {
                return TriageOutcome(slide: path, name: name, status: .skipped, summary: summary)
            }
            let result = try screener.screen(slide, options: options, progress: progress)
            let summary = try ScreenWriter.write(result: result, slide: slide, model: model, options: options, output: output,
                                                 toolVersion: toolVersion, to: directory)
            return TriageOutcome(slide: path, name: name, status: .screened, summary: summary)
        } catch {
            let message = String(describing: error)
            Self.recordError(slide: path, name: name, message: message, model: model, options: options, in: directory)
            return TriageOutcome(slide: path, name: name, status: .failed, message: message)
        }
    }

    /// error.json, as the whole content of the slide's folder (replacing an older result).
    public struct ErrorRecord: Codable {
        public var status = "error"
        public var slide: String
        public var name: String
        public var error: String
        public var model: ScreenSummary.Model
        public var parameters: ScreenOptions
        public var time: String
    }

    static func recordError(slide: String, name: String, message: String, model: ScreenSummary.Model, options: ScreenOptions,
                            in directory: URL) {
        let fm = FileManager.default
        PartialOutputs.clean(directory)
        let temp = PartialOutputs.partial(name, in: directory)
        do {
            try fm.createDirectory(at: temp, withIntermediateDirectories: true)
            let record = ErrorRecord(slide: slide, name: name, error: message, model: model, parameters: options,
                                     time: ISO8601DateFormatter().string(from: Date()))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(record).write(to: temp.appendingPathComponent("error.json"))
            try PartialOutputs.swapIn(temp, as: name, in: directory)
        } catch {
            try? fm.removeItem(at: temp)
        }
    }
}
