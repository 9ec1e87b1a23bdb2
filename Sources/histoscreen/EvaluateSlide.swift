import ArgumentParser
import Foundation
import Imaging
import Screening

/// `histoscreen evaluate-slide RESULT_DIR... --truth ANNOTATIONS`: lesion-level evaluation.
struct EvaluateSlide: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-slide",
        abstract: "Evaluate screens against annotated tumour: FROC, lesion sensitivity by class, tile AUC.",
        discussion: """
            RESULT_DIR is a screen's folder for one slide (with summary.json and tiles.csv), or a folder of them \
            (screen or triage --out). --truth is an annotation file (QuPath or ASAP-style GeoJSON polygons, or ASAP \
            XML) when one slide is evaluated, or a folder holding <slide-name>.geojson, .json or .xml for each; a \
            slide with no file there is a slide without tumour. Reports the Camelyon16 FROC (sensitivity at 1/4, 1/2, \
            1, 2, 4 and 8 false positives per slide, pooled over slides, and their mean), lesion sensitivity for \
            isolated tumour cells, micro- and macro-metastases, and tile-level AUC against the annotation mask. How \
            hits are counted: docs/evaluation.md.
            """
    )

    @Argument(help: "Screen result folders.", completion: .directory) var results: [String]
    @Option(help: "Annotation file, or folder of <slide-name>.geojson/.json/.xml.") var truth: String
    @Option(help: "Only annotations of this class (GeoJSON classification name, or ASAP group).") var truthClass: String?
    @Option(parsing: .unconditional, help: "Threshold for regions (default: each screen's own).") var threshold: Double?
    @Option(help: "Also write evaluation.json and froc.png here.") var out: String?
    @Option(help: "Bootstrap resamples for the tile AUC's confidence interval.") var resamples = 1000
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if let threshold, !(threshold > 0 && threshold < 1) { throw ValidationError("--threshold must be between 0 and 1") }
        guard (10...100_000).contains(resamples) else { throw ValidationError("--resamples must be between 10 and 100000") }
    }

    /// Result folders: each argument itself if it holds summary.json, else its subfolders that do.
    func folders() throws -> [URL] {
        var out: [URL] = []
        let fm = FileManager.default
        for path in results {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw EvaluateSlideError("\(path): not a folder (give a screen's result folder)")
            }
            if fm.fileExists(atPath: url.appendingPathComponent("summary.json").path) { out.append(url); continue }
            let children = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted().filter { !$0.hasPrefix(".") }
                .map { url.appendingPathComponent($0) }.filter { fm.fileExists(atPath: $0.appendingPathComponent("summary.json").path) }
            guard !children.isEmpty else { throw EvaluateSlideError("\(path): holds no screen results (no summary.json in it or its subfolders)") }
            out += children
        }
        return out
    }

    func run() throws {
        do {
            let folders = try folders()
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: truth, isDirectory: &isDirectory) else {
                throw EvaluateSlideError("\(truth): no such file or folder")
            }
            if !isDirectory.boolValue && folders.count > 1 {
                throw EvaluateSlideError("\(truth): one annotation file for \(folders.count) slides; give a folder of <slide-name>.geojson or .xml")
            }
            var cases: [(screened: LesionEvaluation.Screened, truth: TruthAnnotations?, truthPath: String?)] = []
            for folder in folders {
                let screened = try LesionEvaluation.Screened.load(folder)
                var file: URL? = isDirectory.boolValue ? nil : URL(fileURLWithPath: truth)
                if isDirectory.boolValue {
                    file = ["geojson", "json", "xml"].map { URL(fileURLWithPath: truth).appendingPathComponent("\(screened.name).\($0)") }
                        .first { FileManager.default.fileExists(atPath: $0.path) }
                }
                let annotations = try file.map { url throws(TruthAnnotations.ReadError) in try TruthAnnotations.read(url, className: truthClass) }
                cases.append((screened, annotations, file?.relativePath))
            }
            let report = LesionEvaluation.evaluate(cases, threshold: threshold, resamples: resamples)
            if let out {
                let dir = URL(fileURLWithPath: out)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try AtomicFile.write(Array(try encode(report)), to: dir.appendingPathComponent("evaluation.json"))
                try PNG.write(LesionEvaluation.chart(report.froc).raster, to: dir.appendingPathComponent("froc.png"))
            }
            if json {
                print(String(decoding: try encode(report), as: UTF8.self))
            } else {
                print(text(report))
            }
        } catch let error as TruthAnnotations.ReadError {
            printError(error.description); throw ExitCode(1)
        } catch let error as EvaluateSlideError {
            printError(error.message); throw ExitCode(1)
        }
    }

    func encode(_ report: LesionEvaluation.Report) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(report)
    }

    func text(_ r: LesionEvaluation.Report) -> String {
        var lines: [String] = []
        for s in r.slides {
            lines.append("\(s.name): \(s.lesions) annotated lesion\(s.lesions == 1 ? "" : "s")\(s.truth == nil ? " (no annotation file: a slide without tumour)" : ""), "
                         + "\(s.detections) region\(s.detections == 1 ? "" : "s"), \(s.falsePositives) false positive\(s.falsePositives == 1 ? "" : "s")")
        }
        guard r.froc.lesions > 0 else {
            lines.append("FROC: undefined, no annotated lesion of 0.2 mm or more (isolated tumour cells are excluded)")
            return lines.joined(separator: "\n") + "\n" + classLines(r)
        }
        lines.append(String(format: "FROC over %d slide%@ and %d lesions (isolated tumour cells excluded): score %.3f",
                            r.slides.count, r.slides.count == 1 ? "" : "s", r.froc.lesions, r.froc.score))
        lines.append("  FP/slide     " + r.froc.falsePositivesPerSlide.map { String(format: "%6g", $0) }.joined(separator: " "))
        lines.append("  sensitivity  " + r.froc.sensitivities.map { String(format: "%6.3f", $0) }.joined(separator: " "))
        return lines.joined(separator: "\n") + "\n" + classLines(r)
    }

    func classLines(_ r: LesionEvaluation.Report) -> String {
        var lines: [String] = []
        for c in LesionClass.allCases {
            let s = r.lesionSensitivity[c.rawValue]!
            lines.append("lesion sensitivity, \(c.label): \(s.detected)/\(s.total)" + (s.sensitivity.map { String(format: " (%.3f)", $0) } ?? ""))
        }
        lines.append("tile AUC against the annotation mask: " + (r.tileAUC.map(\.description) ?? "undefined (needs tumour and non-tumour tiles)")
                     + " over \(r.tileCounts["tumour"] ?? 0) tumour and \(r.tileCounts["other"] ?? 0) other tiles")
        return lines.joined(separator: "\n")
    }
}

struct EvaluateSlideError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
