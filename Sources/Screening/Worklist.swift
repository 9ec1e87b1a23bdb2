import Foundation
import Imaging

/// One row of the worklist.
public struct WorklistEntry: Sendable, Codable, Equatable {
    public var rank: Int
    public var name: String
    public var slide: String
    public var status: String
    public var tumourFraction: Double?
    public var maxProbability: Double?
    public var largestRegionMM2: Double?
    public var regionCount: Int?
    /// The largest Camelyon class among the slide's regions: "itc", "micro", "macro" or "none".
    public var largestLesionClass: String?
    public var tilesWithTissue: Int?
    public var reasons: [String]
    public var error: String?
}

/// The slides of a triage folder, most suspicious first, rebuilt from the per-slide
/// summary.json and error.json files alone (so shards run on other machines merge by
/// running it once over the shared folder).
///
/// Order: slides that failed come first, since each needs a person's attention; then by
/// tumour fraction, maximum probability and largest region, all descending; then by name.
/// Reason codes: `error` (with `unreadable-result` when a summary.json or error.json is damaged), `no-tissue`, `large-region` (largest region ≥ 0.2 mm², the lower
/// bound of a micrometastasis), `high-max-prob` (a tile at p ≥ 0.95), `tumour-fraction`
/// (≥ 5 % of the tissue area positive).
public enum Worklist {
    public static let largeRegionMM2 = 0.2
    public static let highProbability = 0.95
    public static let notableFraction = 0.05

    public static func build(from directory: URL) -> [WorklistEntry] {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        var entries: [WorklistEntry] = []
        let decoder = JSONDecoder()
        for name in names {
            let folder = directory.appendingPathComponent(name)
            if let data = fm.contents(atPath: folder.appendingPathComponent("summary.json").path),
               let s = try? decoder.decode(ScreenSummary.self, from: data) {
                var reasons: [String] = []
                if s.tiles.withTissue == 0 { reasons.append("no-tissue") }
                if s.largestRegionMM2 >= largeRegionMM2 { reasons.append("large-region") }
                if (s.maxProbability ?? 0) >= highProbability { reasons.append("high-max-prob") }
                if s.tumourFraction >= notableFraction { reasons.append("tumour-fraction") }
                entries.append(WorklistEntry(rank: 0, name: name, slide: s.slide.path, status: "ok", tumourFraction: s.tumourFraction,
                                             maxProbability: s.maxProbability, largestRegionMM2: s.largestRegionMM2,
                                             regionCount: s.regionCount, largestLesionClass: s.largestLesionClass,
                                             tilesWithTissue: s.tiles.withTissue, reasons: reasons))
            } else if let data = fm.contents(atPath: folder.appendingPathComponent("error.json").path),
                      let e = try? decoder.decode(Triage.ErrorRecord.self, from: data) {
                entries.append(WorklistEntry(rank: 0, name: name, slide: e.slide, status: "error", reasons: ["error"], error: e.error))
            } else if let file = ["summary.json", "error.json"].first(where: { fm.fileExists(atPath: folder.appendingPathComponent($0).path) }) {
                // A result that cannot be read is listed as an error, never dropped: the slide
                // must be looked at or screened again.
                let problem = "\(folder.appendingPathComponent(file).path): cannot be read as a HistoScreen \(file) (damaged or from "
                    + "another version); screen the slide again"
                entries.append(WorklistEntry(rank: 0, name: name, slide: "", status: "error", reasons: ["error", "unreadable-result"],
                                             error: problem))
            }
        }
        entries.sort { a, b in
            if (a.status == "error") != (b.status == "error") { return a.status == "error" }
            let ka = [a.tumourFraction ?? -1, a.maxProbability ?? -1, a.largestRegionMM2 ?? -1]
            let kb = [b.tumourFraction ?? -1, b.maxProbability ?? -1, b.largestRegionMM2 ?? -1]
            if ka != kb { return ka.lexicographicallyPrecedes(kb) == false }
            return a.name < b.name
        }
        for i in entries.indices { entries[i].rank = i + 1 }
        return entries
    }

    /// Writes worklist.csv, worklist.json and worklist.html into the folder, atomically.
    public static func write(_ entries: [WorklistEntry], to directory: URL) throws {
        func f(_ v: Double?, _ d: Int) -> String { v.map { String(format: "%.\(d)f", $0) } ?? "" }
        func quote(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var csv = "rank,name,status,tumour_fraction,max_probability,largest_region_mm2,regions,largest_class,tiles_with_tissue,reasons,slide,report,error\n"
        for e in entries {
            csv += [String(e.rank), quote(e.name), e.status, f(e.tumourFraction, 4), f(e.maxProbability, 4), f(e.largestRegionMM2, 4),
                    e.regionCount.map(String.init) ?? "", e.largestLesionClass ?? "", e.tilesWithTissue.map(String.init) ?? "", e.reasons.joined(separator: ";"),
                    quote(e.slide), e.status == "ok" ? "\(e.name)/report.html" : "", quote(e.error ?? "")].joined(separator: ",") + "\n"
        }
        try AtomicFile.write(text: csv, to: directory.appendingPathComponent("worklist.csv"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(Array(try encoder.encode(entries)), to: directory.appendingPathComponent("worklist.json"))
        try AtomicFile.write(text: html(entries), to: directory.appendingPathComponent("worklist.html"))
    }

    static func html(_ entries: [WorklistEntry]) -> String {
        func esc(_ s: String) -> String { Report.escape(s) }
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f %%", 100 * $0) } ?? "—" }
        func num(_ v: Double?, _ d: Int) -> String { v.map { String(format: "%.\(d)f", $0) } ?? "—" }
        let rows = entries.map { e -> String in
            let images = e.status == "ok"
                ? "<td><img class=\"thumb\" src=\"\(esc(e.name))/thumbnail.png\" alt=\"thumbnail\"></td><td><a href=\"\(esc(e.name))/overlay.png\"><img class=\"thumb\" src=\"\(esc(e.name))/overlay.png\" alt=\"overlay\"></a></td>"
                : "<td colspan=\"2\" class=\"error\">\(esc(e.error ?? "error"))</td>"
            let link = e.status == "ok" ? "<a href=\"\(esc(e.name))/report.html\">\(esc(e.name))</a>" : esc(e.name)
            return "<tr class=\"\(e.status)\"><td>\(e.rank)</td><td>\(link)<div class=\"path\">\(esc(e.slide))</div></td>\(images)"
                + "<td>\(pct(e.tumourFraction))</td><td>\(num(e.maxProbability, 3))</td><td>\(num(e.largestRegionMM2, 3))</td>"
                + "<td>\(e.regionCount.map(String.init) ?? "—")</td><td>\(esc(e.largestLesionClass.flatMap { LesionClass(rawValue: $0)?.label } ?? (e.status == "ok" ? "none" : "—")))</td><td>\(e.reasons.map { "<span class=\"reason\">\(esc($0))</span>" }.joined(separator: " "))</td></tr>"
        }.joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>HistoScreen worklist</title>
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; }
        table { border-collapse: collapse; font-size: 14px; }
        th, td { border: 1px solid #ccc; padding: 6px 8px; text-align: left; vertical-align: top; }
        th { background: #f2f2f2; }
        img.thumb { max-width: 180px; max-height: 180px; }
        .path { color: #777; font-size: 12px; }
        .reason { background: #fde9d9; border-radius: 3px; padding: 1px 5px; margin-right: 3px; font-size: 12px; }
        tr.error td { background: #fff3f3; }
        .error { color: #a00; }
        </style>
        </head>
        <body>
        <h1>Worklist: \(entries.count) slide\(entries.count == 1 ? "" : "s")</h1>
        <p>Most suspicious first: by tumour fraction, then maximum probability, then largest region. Slides that failed come first. \
        A screening aid for research use; every slide still needs a pathologist's review.</p>
        <table>
        <tr><th>#</th><th>Slide</th><th>Thumbnail</th><th>Overlay</th><th>Tumour fraction</th><th>Max p</th><th>Largest region (mm²)</th><th>Regions</th><th>Largest class</th><th>Reasons</th></tr>
        \(rows)
        </table>
        </body>
        </html>

        """
    }
}
