import ArgumentParser
import Foundation
import Neural
import Screening
import Slides

/// `histoscreen screen SLIDE... --out DIR`: the main job.
struct Screen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Screen whole-slide images for tumour.",
        discussion: """
            For each slide: finds the tissue, cuts it into 96×96-pixel windows at the model's µm per pixel, \
            runs the classifier, and writes into DIR/<slide-name>/: heatmap.png, overlay.png, tissue.png, tiles.csv, \
            regions.geojson (QuPath annotations, ranked by lesion score), probability.tif (a pyramidal map in the slide's \
            frame for QuPath and ASAP), summary.json and report.html; with --tiles-geojson also tiles.geojson (QuPath \
            tiles for measurement maps), and with --viewer a zoomable viewer.html. Slides are screened one after another; one that \
            fails is reported and the rest still run (exit status 1 if any failed). With --json the summary is \
            printed to stdout (an array when several slides are given).
            """
    )

    @Argument(help: "Slide files (any format OpenSlide reads, or 8-bit RGB TIFF/PNG).", completion: .file())
    var slides: [String]

    @Option(help: "Output folder.")
    var out: String

    @OptionGroup var screening: ScreenOptionGroup

    @Option(help: "Inference threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the summary as JSON to stdout.")
    var json = false

    @Flag(help: "No progress bar.")
    var quiet = false

    func run() throws {
        if let threads { Threading.threadCount = threads }
        let outURL = URL(fileURLWithPath: out)
        let model: (bundle: ModelBundle, info: ScreenSummary.Model)
        do {
            try ScreenWriter.prepare(outURL)
            model = try screening.loadModel()
        } catch let error as ScreenError {
            printError(error.description); throw ExitCode(1)
        } catch let error as ModelBundleError {
            printError(error.description); throw ExitCode(1)
        }
        let options = screening.screenOptions(window: model.bundle.manifest.architecture.inputShape[0])
        let screener = screening.screener(model.bundle)
        let modelInfo = model.info
        let progress = ProgressBar(enabled: !quiet)
        var summaries: [ScreenSummary] = []
        var failures: [(String, String)] = []
        for (k, path) in slides.enumerated() {
            let label = slides.count > 1 ? "[\(k + 1)/\(slides.count)] \(ScreenWriter.slideName(path))" : ScreenWriter.slideName(path)
            do {
                let slide = try openSlide(at: URL(fileURLWithPath: path))
                progress.update(label, done: 0, total: 1, detail: "finding tissue", force: true)
                let result = try screener.screen(slide, options: options) { done, total, rate in
                    let eta = rate > 0 ? Double(total - done) / rate : .nan
                    progress.update(label, done: done, total: total,
                                    detail: String(format: "tiles  %.0f tiles/s  ETA %@", rate, formatDuration(eta)))
                }
                if screening.viewer { progress.update(label, done: 1, total: 1, detail: "writing outputs and the viewer", force: true) }
                let summary = try ScreenWriter.write(result: result, slide: slide, model: modelInfo, options: options,
                                                     output: screening.outputOptions, toolVersion: histoScreenVersion, to: outURL)
                summaries.append(summary)
                progress.finish()
                if !json {
                    print(String(format: "%@: %d tiles with tissue, %d positive; tumour fraction %.1f%%, max p %.3f, %d region%@ (largest %.3f mm², largest class %@); %.1f s → %@",
                                 path, summary.tiles.withTissue, summary.tiles.positive, 100 * summary.tumourFraction,
                                 summary.maxProbability ?? 0, summary.regionCount, summary.regionCount == 1 ? "" : "s",
                                 summary.largestRegionMM2, summary.largestLesionClass ?? "none", summary.timings.totalSeconds,
                                 outURL.appendingPathComponent(summary.slide.name).relativePath + "/"))
                }
            } catch {
                progress.finish()
                let message = String(describing: error)
                failures.append((path, message))
                printError(message)
            }
        }
        if json {
            if slides.count == 1, let only = summaries.first {
                print(try encodeJSON(only))
            } else {
                struct Failure: Encodable { var status = "error"; var slide: String; var error: String }
                var items: [AnyEncodable] = summaries.map { AnyEncodable($0) }
                items += failures.map { AnyEncodable(Failure(slide: $0.0, error: $0.1)) }
                print(try encodeJSON(items))
            }
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}

/// Type-erased Encodable, for mixed JSON arrays.
struct AnyEncodable: Encodable {
    let encodeValue: (Encoder) throws -> Void
    init(_ value: some Encodable) { encodeValue = value.encode }
    func encode(to encoder: Encoder) throws { try encodeValue(encoder) }
}

/// Where the bundled model is found when --model is not given.
enum ModelLocation {
    static let defaultName = "histoscreen-pcam.hsmodel"

    /// The running executable, resolved through symbolic links (not argv[0], which is a bare
    /// name when the tool is found on PATH).
    static var executable: URL {
        let path = Bundle.main.executablePath ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: path).resolvingSymlinksInPath()
    }

    /// The folders searched, in order: beside an installed executable
    /// (`PREFIX/bin/histoscreen` → `PREFIX/share/histoscreen/models/`), a checkout above the
    /// executable (`.build/<config>/histoscreen` → `Samples/models/`), then the working folder.
    static var candidates: [URL] {
        let bin = executable.deletingLastPathComponent()
        var out = [bin.deletingLastPathComponent().appendingPathComponent("share/histoscreen/models/\(defaultName)")]
        var dir = bin
        for _ in 0..<5 {
            out.append(dir.appendingPathComponent("Samples/models/\(defaultName)"))
            dir = dir.deletingLastPathComponent()
        }
        out.append(URL(fileURLWithPath: "Samples/models/\(defaultName)"))
        return out
    }

    /// --model if given; else HISTOSCREEN_MODEL; else the first candidate that holds a model.
    static func resolve(_ explicit: String?) throws(ScreenError) -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        if let env = ProcessInfo.processInfo.environment["HISTOSCREEN_MODEL"] { return URL(fileURLWithPath: env) }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("model.json").path) }) {
            // Shown relative to the working folder when inside it, as a user would type it.
            let cwd = FileManager.default.currentDirectoryPath
            let path = found.standardizedFileURL.path
            return path.hasPrefix(cwd + "/") ? URL(fileURLWithPath: String(path.dropFirst(cwd.count + 1))) : found.standardizedFileURL
        }
        throw ScreenError(path: defaultName, problem: "the bundled model was not found (looked in \(candidates.map(\.path).joined(separator: ", ")))",
                          hint: "install with `bash Scripts/install.sh PREFIX`, set HISTOSCREEN_MODEL, or pass --model NAME.hsmodel")
    }
}
