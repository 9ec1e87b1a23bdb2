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
            regions.geojson (QuPath), summary.json and report.html. Slides are screened one after another; one that \
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
        let options = screening.screenOptions
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
                let summary = try ScreenWriter.write(result: result, slide: slide, model: modelInfo, options: options,
                                                     toolVersion: histoScreenVersion, to: outURL)
                summaries.append(summary)
                progress.finish()
                if !json {
                    print(String(format: "%@: %d tiles with tissue, %d positive; tumour fraction %.1f%%, max p %.3f, %d region%@ (largest %.3f mm²); %.1f s → %@",
                                 path, summary.tiles.withTissue, summary.tiles.positive, 100 * summary.tumourFraction,
                                 summary.maxProbability ?? 0, summary.regionCount, summary.regionCount == 1 ? "" : "s",
                                 summary.largestRegionMM2, summary.timings.totalSeconds,
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

    /// --model if given; else HISTOSCREEN_MODEL; else Samples/models/<default> under the working
    /// directory or the folders above the executable (a checkout's .build/<config>/).
    static func resolve(_ explicit: String?) throws(ScreenError) -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        if let env = ProcessInfo.processInfo.environment["HISTOSCREEN_MODEL"] { return URL(fileURLWithPath: env) }
        let relative = "Samples/models/\(defaultName)"
        var candidates = [URL(fileURLWithPath: relative)]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent(relative))
            dir = dir.deletingLastPathComponent()
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("model.json").path) }) {
            return found
        }
        throw ScreenError(path: relative, problem: "the bundled model was not found",
                          hint: "run from the repository root, or pass --model NAME.hsmodel")
    }
}
