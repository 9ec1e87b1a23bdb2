import Foundation

/// The hidden folders an atomic result swap uses, and their clean-up after a killed run.
///
/// A result is written into `.NAME.partial-HOST-PID-RANDOM/`; when complete, the old
/// `NAME/` (if any) is moved aside to `.NAME.old-HOST-PID/`, the partial folder is renamed to
/// `NAME/`, and the old one is removed. A run killed at any step leaves `NAME/` complete (old
/// or new), or `NAME/` missing with the old result still whole in `.NAME.old-…`. `clean`
/// undoes what such a run left: it removes partial folders and restores an old folder whose
/// `NAME/` is missing, for every writer that is no longer alive.
public enum PartialOutputs {
    /// This machine's name, reduced to letters, digits and hyphens.
    static let host: String = {
        let name = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let kept = name.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" }
        return kept.isEmpty ? "host" : String(String.UnicodeScalarView(kept))
    }()
    /// Folders from another machine (a shared file system under a job array) are removed only
    /// after this long, since that machine's processes cannot be checked from here.
    public static let foreignAge: TimeInterval = 24 * 3600

    public static func partial(_ name: String, in directory: URL) -> URL {
        directory.appendingPathComponent(".\(name).partial-\(host)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    public static func old(_ name: String, in directory: URL) -> URL {
        directory.appendingPathComponent(".\(name).old-\(host)-\(getpid())")
    }

    /// Replaces `directory/name` with `temp` (see the type's description).
    public static func swapIn(_ temp: URL, as name: String, in directory: URL) throws {
        let fm = FileManager.default
        let final = directory.appendingPathComponent(name)
        let aside = old(name, in: directory)
        try? fm.removeItem(at: aside)
        if fm.fileExists(atPath: final.path) { try fm.moveItem(at: final, to: aside) }
        try fm.moveItem(at: temp, to: final)
        try? fm.removeItem(at: aside)
    }

    /// Removes the partial folders, and restores the set-aside results, of writers in
    /// `directory` that are no longer running. Returns what it removed or restored.
    @discardableResult
    public static func clean(_ directory: URL) -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory.path) else { return [] }
        var done: [String] = []
        for entry in names.sorted() where entry.hasPrefix(".") {
            for marker in [".partial-", ".old-"] {
                guard let range = entry.range(of: marker, options: .backwards) else { continue }
                let name = String(entry[entry.index(after: entry.startIndex)..<range.lowerBound])
                let owner = entry[range.upperBound...].split(separator: "-").map(String.init)
                let url = directory.appendingPathComponent(entry)
                guard !name.isEmpty, !isAlive(owner: owner, marker: marker, url: url) else { continue }
                let final = directory.appendingPathComponent(name)
                if marker == ".old-" && !fm.fileExists(atPath: final.path) {
                    if (try? fm.moveItem(at: url, to: final)) != nil { done.append("restored \(name)") }
                } else if (try? fm.removeItem(at: url)) != nil {
                    done.append("removed \(entry)")
                }
            }
        }
        return done
    }

    /// Whether the writer named by `owner` (`HOST-PID[-RANDOM]`, host possibly with hyphens)
    /// may still be writing.
    static func isAlive(owner: [String], marker: String, url: URL) -> Bool {
        let pidIndex = marker == ".partial-" ? owner.count - 2 : owner.count - 1
        let ownerHost = pidIndex > 0 ? owner[0..<pidIndex].joined(separator: "-") : ""
        if ownerHost == host, pidIndex >= 0, let pid = Int32(owner[pidIndex]) {
            if pid == getpid() { return true }
            return kill(pid, 0) == 0 || errno == EPERM
        }
        let modified = (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? Date()
        return Date().timeIntervalSince(modified) < foreignAge
    }
}
