import Foundation
import Imaging
import Neural
import Screening
import Slides
import Testing
import _TestSupport

/// Inputs that once crashed `screen` or `triage`, or were screened when they should have
/// been refused. Each now gets a result or an error naming the slide or the option.
@Suite struct HardeningTests {
    let dir = TemporaryDirectory()

    func model() throws -> String {
        let url = dir.file("centre.hsmodel")
        if !FileManager.default.fileExists(atPath: url.path) { try SyntheticModel.centreDarkness().save(to: url) }
        return url.path
    }

    /// The CMU sample with its `MPP = 0.4990` replaced, byte for byte, by another value.
    func cmu(mpp: String, name: String) throws -> URL {
        var bytes = [UInt8](try Data(contentsOf: TestPaths.cmuSlide))
        let old = Array("MPP = 0.4990".utf8), new = Array("MPP = \(mpp)".utf8)
        precondition(old.count == new.count)
        var i = 0, replaced = 0
        while i + old.count <= bytes.count {
            if Array(bytes[i..<(i + old.count)]) == old { bytes.replaceSubrange(i..<(i + old.count), with: new); replaced += 1 }
            i += 1
        }
        precondition(replaced > 0)
        let url = dir.file(name)
        try Data(bytes).write(to: url)
        return url
    }

    @Test func implausibleResolutionIsRefusedAndIsolatedInATriage() throws {
        let folder = dir.file("slides")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let huge = try cmu(mpp: "1.0e99", name: "slides/huge-mpp.svs")
        try FileManager.default.copyItem(at: TestPaths.cmuSlide, to: folder.appendingPathComponent("good.svs"))
        let one = try CLI.run(["screen", huge.path, "--model", try model(), "--out", dir.file("o1").path, "--quiet"])
        #expect(one.status == 1)
        #expect(one.stderr.contains("huge-mpp.svs: the slide records 1e+99") && one.stderr.contains("HINT:"))
        let triage = try CLI.run(["triage", folder.path, "--model", try model(), "--out", dir.file("t").path, "--quiet"])
        #expect(triage.status == 1)  // one slide failed
        #expect(FileManager.default.fileExists(atPath: dir.file("t/good/summary.json").path))
        #expect(FileManager.default.fileExists(atPath: dir.file("t/worklist.csv").path))
    }

    @Test(arguments: [("1e9", "outside 0.05"), ("1e-6", "outside 0.05"), ("-1", "outside 0.05"), ("nan", "outside 0.05")])
    func implausibleMPPOptionIsRefused(_ value: String, _ phrase: String) throws {
        let result = try CLI.run(["screen", TestPaths.cmuSlide.path, "--mpp", value, "--model", try model(), "--out", dir.file("o").path])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--mpp") && result.stderr.contains(phrase), "\(result.stderr)")
    }

    /// A TIFF at the 72-dpi default of image software has no resolution; it is never 352.8 µm/px.
    @Test func screenDefaultDPIIsUnknown() throws {
        let url = dir.file("dpi72.tiff")
        let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 200, height: 200), tileSize: 128,
                                         micronsPerPixel: (25_400.0 / 72, 25_400.0 / 72))
        try TestSlides.writeSquares(to: url, writer: writer, squares: [(PixelPoint(x: 0, y: 0), PixelSize(width: 100, height: 200))],
                                    color: (120, 40, 120))
        let result = try CLI.run(["screen", url.path, "--model", try model(), "--out", dir.file("o").path, "--quiet"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("dpi72.tiff") && result.stderr.contains("--mpp"), "\(result.stderr)")
    }

    /// A slide of 12 × 12 pixels screens and writes every output.
    @Test func tinySlide() throws {
        let url = dir.file("tiny.png")
        try PNG.write(Raster(width: 12, height: 12, channels: 3, fill: [120, 40, 120]), to: url)
        let result = try CLI.run(["screen", url.path, "--mpp", "0.5", "--model", try model(), "--out", dir.file("o").path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        for file in ["summary.json", "overlay.png", "report.html", "heatmap.png"] {
            #expect(FileManager.default.fileExists(atPath: dir.file("o/tiny/\(file)").path), "\(file)")
        }
    }

    /// More cells than the limit need --force: a 3,300-pixel square at 20 µm/px and stride 32
    /// is 2,122 × 2,122 cells, about 4.5 million. Batch sizes are bounded too.
    @Test func cellAndBatchLimits() throws {
        let url = dir.file("wide.png")
        try PNG.write(Raster(width: 3300, height: 3300, channels: 3, fill: [255, 255, 255]), to: url)
        let many = try CLI.run(["screen", url.path, "--mpp", "20", "--stride", "32", "--model", try model(), "--out", dir.file("o").path, "--quiet"])
        #expect(many.status == 1)
        #expect(many.stderr.contains("wide.png") && many.stderr.contains("without --force") && many.stderr.contains("pass --force"), "\(many.stderr)")
        let big = try CLI.run(["screen", TestPaths.cmuSlide.path, "--batch", "1000000000", "--model", try model(), "--out", dir.file("o").path])
        #expect(big.status == 64 && big.stderr.contains("--batch must be between 1 and 4096"))
    }
}

extension HardeningTests {
    /// Starts `histoscreen` and kills it with SIGKILL after `delay` seconds (if still running).
    func killed(_ arguments: [String], after delay: Double) throws {
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: delay)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// `kill -9` at several moments of a screen over an existing result: the folder always
    /// holds a complete result (old or new) or, between the two renames, the old one set
    /// aside; the next run cleans up and completes.
    @Test func killedScreensLeaveOldOrNewAndRerunsComplete() throws {
        let out = dir.file("out")
        let arguments = ["screen", TestPaths.cmuSlide.path, "--model", try model(), "--out", out.path, "--quiet"]
        let first = try CLI.run(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        let result = out.appendingPathComponent("CMU-1-Small-Region")
        for delay in [0.05, 0.2, 0.4, 0.7, 1.0, 1.5] {
            try killed(arguments, after: delay)
            let complete = ScreenWriter.files.allSatisfy { FileManager.default.fileExists(atPath: result.appendingPathComponent($0).path) }
            let names = try FileManager.default.contentsOfDirectory(atPath: out.path)
            let setAside = names.contains { $0.hasPrefix(".CMU-1-Small-Region.old-") }
            #expect(complete || setAside, "after \(delay) s: \(names)")
            let rerun = try CLI.run(arguments)
            #expect(rerun.status == 0, "\(rerun.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasPrefix(".") } == [])
            #expect(ScreenWriter.files.allSatisfy { FileManager.default.fileExists(atPath: result.appendingPathComponent($0).path) })
        }
    }

    /// A damaged summary.json is listed as an error, not dropped from the worklist.
    @Test func worklistListsDamagedResults() throws {
        let out = dir.file("w")
        let run = try CLI.run(["screen", TestPaths.cmuSlide.path, "--model", try model(), "--out", out.path, "--quiet"])
        #expect(run.status == 0)
        try FileManager.default.createDirectory(at: out.appendingPathComponent("broken"), withIntermediateDirectories: true)
        try Data("{\"status\": \"ok\", \"trunc".utf8).write(to: out.appendingPathComponent("broken/summary.json"))
        let worklist = try CLI.run(["worklist", out.path, "--json"])
        #expect(worklist.stdout.contains("unreadable-result") && worklist.stdout.contains("broken/summary.json"), "\(worklist.stdout)")
        #expect(worklist.stdout.contains("CMU-1-Small-Region"))
    }
}

extension HardeningTests {
    /// Every kind of damage to the real CMU sample fails the screen of that slide by name,
    /// with exit 1, and writes no result for it.
    @Test(arguments: CorruptCopies.Damage.allCases) func damagedSlidesAreNotScreened(_ damage: CorruptCopies.Damage) throws {
        let url = dir.file("\(damage.rawValue).svs")
        try CorruptCopies.write(TestPaths.cmuSlide, damage, to: url)
        let out = dir.file("out-\(damage.rawValue)")
        let result = try CLI.run(["screen", url.path, "--model", try model(), "--out", out.path, "--quiet"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("\(damage.rawValue).svs: "))
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("\(damage.rawValue)/summary.json").path))
    }
}

extension HardeningTests {
    /// Installed as `Scripts/install.sh` lays it out (PREFIX/bin and PREFIX/share/histoscreen/models),
    /// the tool screens from any folder without --model.
    @Test func installedToolFindsItsModelFromAnyFolder() throws {
        let prefix = dir.file("prefix")
        let fm = FileManager.default
        try fm.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try fm.copyItem(at: CLI.executable, to: prefix.appendingPathComponent("bin/histoscreen"))
        let models = prefix.appendingPathComponent("share/histoscreen/models")
        try fm.createDirectory(at: models, withIntermediateDirectories: true)
        try fm.copyItem(at: TestPaths.samples.appendingPathComponent("models/histoscreen-pcam.hsmodel"),
                        to: models.appendingPathComponent("histoscreen-pcam.hsmodel"))
        let elsewhere = dir.file("elsewhere")
        try fm.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let result = try CLI.run(["screen", TestPaths.cmuSlide.path, "--out", "o", "--quiet"], in: elsewhere,
                                 executable: prefix.appendingPathComponent("bin/histoscreen"))
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try String(contentsOf: elsewhere.appendingPathComponent("o/CMU-1-Small-Region/summary.json"), encoding: .utf8)
        #expect(summary.contains(models.path))
    }

    @Test func outputUnderAFileAndBadResamples() throws {
        let file = dir.file("plain.txt")
        try Data("x".utf8).write(to: file)
        let result = try CLI.run(["screen", TestPaths.cmuSlide.path, "--model", try model(), "--out", file.appendingPathComponent("o").path])
        #expect(result.status == 1 && result.stderr.contains("plain.txt is a file, not a folder"), "\(result.stderr)")
        let evaluate = try CLI.run(["evaluate", try model(), TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path,
                                    "--out", dir.file("e").path, "--resamples", "0"])
        #expect(evaluate.status == 64 && evaluate.stderr.contains("--resamples must be between 10 and 100000"))
    }
}
