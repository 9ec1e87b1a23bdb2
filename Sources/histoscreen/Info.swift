import ArgumentParser
import Foundation
import Slides

/// `histoscreen info SLIDE... [--json]`: a slide's pyramid, resolution and vendor metadata.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a slide's levels, resolution and metadata.",
        discussion: """
            Opens each slide with OpenSlide (Aperio SVS, Hamamatsu NDPI, MIRAX MRXS, tiled TIFF, ...) \
            or as a plain 8-bit RGB TIFF or PNG image. Exits with status 1 if any slide cannot be read; \
            the others are still reported.
            """
    )

    @Argument(help: "Slide files.", completion: .file())
    var slides: [String]

    @Flag(help: "Print a JSON array, one object per slide, to stdout.")
    var json = false

    @Flag(help: "Also list every vendor property (always included in --json).")
    var properties = false

    func run() throws {
        var reports: [InfoReport] = []
        for path in slides {
            do {
                let slide = try openSlide(at: URL(fileURLWithPath: path))
                reports.append(InfoReport(path: path, ok: true, metadata: slide.metadata, error: nil))
                if !json { print(Self.describe(slide.metadata, path: path, properties: properties)) }
            } catch {
                reports.append(InfoReport(path: path, ok: false, metadata: nil, error: error.description))
                printError(error.description)
            }
        }
        if json { print(try encodeJSON(reports)) }
        if reports.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }

    struct InfoReport: Encodable {
        var path: String
        var ok: Bool
        var metadata: SlideMetadata?
        var error: String?
    }

    static func describe(_ m: SlideMetadata, path: String, properties: Bool) -> String {
        var lines = [path]
        func row(_ key: String, _ value: String) { lines.append("  " + key.padding(toLength: 14, withPad: " ", startingAt: 0) + value) }
        row("format", "\(m.format) (read by \(m.reader))")
        for level in m.levels {
            row("level \(level.index)", "\(level.sizeAtLevel.width) × \(level.sizeAtLevel.height) px, downsample \(formatNumber(level.downsample))")
        }
        let r = m.resolution
        if let x = r.mppX, let y = r.mppY {
            row("µm per pixel", "\(formatNumber(x)) × \(formatNumber(y)) (from \(r.source.rawValue))")
        } else {
            row("µm per pixel", "unknown (no openslide.mpp-* property and no TIFF resolution tags)")
        }
        row("objective", m.objectivePower.map { "\(formatNumber($0))×" } ?? "unknown")
        if let hash = m.quickHash1 { row("quickhash-1", hash) }
        row("associated", m.associatedImages.isEmpty ? "none"
            : m.associatedImages.map { "\($0.name) \($0.size.width)×\($0.size.height)" }.joined(separator: ", "))
        if properties {
            for key in m.properties.keys.sorted() { lines.append("    \(key) = \(m.properties[key]!)") }
        }
        return lines.joined(separator: "\n")
    }
}

/// Up to 4 decimals, without trailing zeros: 1, 0.499, 4.0002.
func formatNumber(_ value: Double) -> String {
    var s = String(format: "%.4f", value)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}

/// Pretty-printed JSON with sorted keys, so that output is stable across runs.
func encodeJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Writes `histoscreen: error: ...` to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("histoscreen: error: \(message)\n".utf8))
}
