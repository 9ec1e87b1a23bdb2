import ArgumentParser
import Foundation
import Neural
import Screening
import Slides

/// `histoscreen triage INPUT... --out DIR`: screen a batch of slides into a worklist.
struct TriageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triage",
        abstract: "Screen a folder of slides and rank them into a worklist.",
        discussion: """
            INPUT is a folder (slides found by extension, recursively) or a manifest (a text file of paths, one per \
            line, or a CSV with a path column). Each slide is screened into DIR/<slide-name>/ as `screen` does. A slide \
            whose summary already exists for the same slide hash, model and parameters is skipped, so an interrupted \
            triage is resumed by running the same command. A slide that fails gets DIR/<slide-name>/error.json and an \
            error row; the others go on, and the exit status is 1 (2 when nothing could start: a bad model, output folder or input). At the end DIR/worklist.csv, worklist.json and \
            worklist.html are rebuilt from every summary in DIR. \
            --shard K/N screens only this machine's part, for Slurm job arrays or Kubernetes Indexed Jobs writing to \
            one shared DIR; run `histoscreen worklist DIR` after the last shard.
            """
    )

    @Argument(help: "Folders of slides and/or manifests.", completion: .file())
    var inputs: [String]

    @Option(help: "Output folder.") var out: String
    @Option(help: "This machine's share, K/N (1-based), e.g. $((SLURM_ARRAY_TASK_ID + 1))/$SLURM_ARRAY_TASK_COUNT.") var shard: String?
    @Option(help: "Slides screened at once; the engine's threads are divided among them.") var jobs = 1
    @OptionGroup var screening: ScreenOptionGroup
    @Flag(help: "No progress output.") var quiet = false
    @Flag(help: "Print the worklist as JSON to stdout.") var json = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let outURL = URL(fileURLWithPath: out)
        let slides: [String]
        let part: Shard
        let model: (bundle: ModelBundle, info: ScreenSummary.Model)
        do {
            part = try shard.map(Shard.parse) ?? .all
            try ScreenWriter.prepare(outURL)
            let all = try SlideInputs.collect(inputs)
            guard !all.isEmpty else {
                throw ScreenError(path: inputs.joined(separator: ", "), problem: "no slides found",
                                  hint: "slides are found by extension (\(SlideInputs.extensions.sorted().joined(separator: ", "))), recursively")
            }
            try Triage.checkNames(all)
            slides = all.filter { part.contains(slideName: ScreenWriter.slideName($0)) }
            model = try screening.loadModel()
        } catch let error as ScreenError {
            // Status 2: nothing was screened (1 is kept for "some slides failed").
            printError(error.description); throw ExitCode(2)
        } catch let error as ModelBundleError {
            printError(error.description); throw ExitCode(2)
        }
        let options = screening.screenOptions(window: model.bundle.manifest.architecture.inputShape[0])
        let workers = min(jobs, max(1, slides.count))
        Threading.threadCount = max(1, Threading.threadCount / workers)
        let triage = Triage(screener: screening.screener(model.bundle), model: model.info, options: options,
                            output: screening.outputOptions, toolVersion: histoScreenVersion)
        let progress = ProgressBar(enabled: !quiet)
        if !quiet {
            progress.message("triage: \(slides.count) slide\(slides.count == 1 ? "" : "s")\(part.count > 1 ? " in shard \(part)" : "") → \(out)")
        }
        let lock = NSLock()
        nonisolated(unsafe) var next = 0
        nonisolated(unsafe) var outcomes: [TriageOutcome] = []
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                lock.lock()
                let k = next
                next += 1
                lock.unlock()
                guard k < slides.count else { return }
                let path = slides[k]
                let label = "[\(k + 1)/\(slides.count)] \(ScreenWriter.slideName(path))"
                let outcome = triage.process(path, into: outURL) { done, total, rate in
                    guard workers == 1 else { return }
                    progress.update(label, done: done, total: total, detail: String(format: "tiles  %.0f tiles/s", rate))
                }
                lock.lock()
                outcomes.append(outcome)
                let line: String = switch outcome.status {
                case .screened: String(format: "%@: screened, tumour fraction %.1f%%", label, 100 * (outcome.summary?.tumourFraction ?? 0))
                case .skipped: "\(label): already done with this model and these parameters, skipped"
                case .failed: "\(label): failed (error.json written)"
                }
                if outcome.status == .failed { progress.finish(); printError(outcome.message ?? "") }
                progress.message(line)
                lock.unlock()
            }
        }
        let entries = Worklist.build(from: outURL)
        do {
            try Worklist.write(entries, to: outURL)
        } catch {
            printError("\(out): cannot write the worklist: \(error)")
            throw ExitCode(1)
        }
        let failed = outcomes.filter { $0.status == .failed }.count
        let screened = outcomes.filter { $0.status == .screened }.count, skipped = outcomes.filter { $0.status == .skipped }.count
        if json {
            print(try encodeJSON(entries))
        } else {
            print("\(screened) screened, \(skipped) skipped, \(failed) failed in \(formatDuration(Date().timeIntervalSince(start))); "
                  + "worklist of \(entries.count) slides: \(outURL.appendingPathComponent("worklist.html").relativePath)")
            for e in entries.prefix(10) {
                print(String(format: "  %3d  %@  %@  %@", e.rank, e.name.padding(toLength: 28, withPad: " ", startingAt: 0),
                             e.tumourFraction.map { String(format: "%6.1f%%", 100 * $0) } ?? " error ", e.reasons.joined(separator: ", ")))
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

/// `histoscreen worklist DIR`: rebuild the worklist from the per-slide summaries.
struct WorklistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worklist",
        abstract: "Rebuild DIR/worklist.csv, .json and .html from the per-slide summaries in DIR (e.g. after sharded triage)."
    )

    @Argument(help: "A triage output folder.") var directory: String
    @Flag(help: "Print the worklist as JSON to stdout.") var json = false

    func run() throws {
        let url = URL(fileURLWithPath: directory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            printError("\(directory): no such folder")
            throw ExitCode(1)
        }
        let entries = Worklist.build(from: url)
        try Worklist.write(entries, to: url)
        if json {
            print(try encodeJSON(entries))
        } else {
            print("worklist of \(entries.count) slides (\(entries.filter { $0.status == "error" }.count) failed): "
                  + url.appendingPathComponent("worklist.html").relativePath)
        }
    }
}
