import Foundation
import Imaging
import Neural
import Screening
import Slides
import Testing
import _TestSupport

/// `histoscreen triage` and `histoscreen worklist`, end to end with a synthetic model.
@Suite struct TriageCommandTests {
    let dir = TemporaryDirectory()

    /// Slides whose purple share grows with `k`, so their ranking is known.
    func makeSlides(_ count: Int, corruptAt: Int? = nil) throws -> URL {
        let folder = dir.file("slides")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for k in 0..<count {
            let url = folder.appendingPathComponent(String(format: "slide-%02d.tiff", k))
            if k == corruptAt {
                try Data(repeating: 0x4D, count: 4096).write(to: url)
                continue
            }
            let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 384, height: 288), tileSize: 128, micronsPerPixel: (0.972, 0.972))
            // Pink tissue with a purple block whose width grows with k, and glass on the right.
            try writer.write(to: url) { _, origin, size in
                var r = Raster(width: size.width, height: size.height, channels: 3, fill: [235, 190, 220])
                for y in 0..<size.height {
                    for x in 0..<size.width {
                        let gx = origin.x + x
                        let color: [UInt8]? = gx >= 288 ? [245, 245, 243] : gx < 32 + 32 * k ? [120, 40, 120] : nil
                        if let color { r.pixels.replaceSubrange(((y * size.width + x) * 3)..<((y * size.width + x) * 3 + 3), with: color) }
                    }
                }
                return r
            }
        }
        return folder
    }

    func model() throws -> String {
        let url = dir.file("centre.hsmodel")
        if !FileManager.default.fileExists(atPath: url.path) { try SyntheticModel.centreDarkness().save(to: url) }
        return url.path
    }

    func worklist(_ out: URL) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("worklist.json"))) as? [[String: Any]])
    }

    @Test func corruptSlideInTheMiddleIsAnErrorRow() throws {
        let slides = try makeSlides(5, corruptAt: 2)
        let out = dir.file("out")
        let result = try CLI.run(["triage", slides.path, "--out", out.path, "--model", try model(), "--quiet", "--min-tissue", "0"])
        #expect(result.status == 1)
        let rows = try worklist(out)
        #expect(rows.count == 5)
        #expect(rows[0]["name"] as? String == "slide-02" && rows[0]["status"] as? String == "error")
        #expect((rows[0]["reasons"] as? [String]) == ["error"])
        // The others are ranked by tumour fraction, maximum probability and largest region:
        // the widest purple block first, the slide with none last.
        let ranked = Array(rows.dropFirst())
        #expect(ranked.first?["name"] as? String == "slide-04")
        #expect(ranked.last?["name"] as? String == "slide-00")
        func key(_ r: [String: Any]) -> [Double] {
            [r["tumourFraction"] as? Double ?? -1, r["maxProbability"] as? Double ?? -1, r["largestRegionMM2"] as? Double ?? -1]
        }
        for (a, b) in zip(ranked, ranked.dropFirst()) { #expect(!key(a).lexicographicallyPrecedes(key(b))) }
        // Each screened slide carries its largest Camelyon class, as its summary gives it.
        for row in ranked {
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("\(row["name"] as! String)/summary.json"))) as? [String: Any]
            #expect(row["largestLesionClass"] as? String == summary?["largestLesionClass"] as? String)
            #expect(["none", "itc", "micro", "macro"].contains(row["largestLesionClass"] as? String ?? ""))
        }
        #expect(try String(contentsOf: out.appendingPathComponent("worklist.csv"), encoding: .utf8).hasPrefix(
            "rank,name,status,tumour_fraction,max_probability,largest_region_mm2,regions,largest_class,"))
        for name in ["worklist.csv", "worklist.html", "worklist.json"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path))
        }
        let html = try String(contentsOf: out.appendingPathComponent("worklist.html"), encoding: .utf8)
        #expect(html.contains("slide-04/report.html") && html.contains("slide-04/thumbnail.png") && html.contains("slide-04/overlay.png"))
    }

    @Test func resumeSkipsExactlyWhatIsDone() throws {
        let slides = try makeSlides(3)
        let out = dir.file("out")
        let args = ["triage", slides.path, "--out", out.path, "--model", try model(), "--quiet", "--min-tissue", "0"]
        let first = try CLI.run(args)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("3 screened, 0 skipped, 0 failed"))
        try FileManager.default.removeItem(at: out.appendingPathComponent("slide-01"))
        let second = try CLI.run(args)
        #expect(second.stdout.contains("1 screened, 2 skipped, 0 failed"), "\(second.stdout)")
        // Other parameters are other work: nothing is skipped.
        let third = try CLI.run(args + ["--stride", "48"])
        #expect(third.stdout.contains("3 screened, 0 skipped"), "\(third.stdout)")
    }

    /// Three shard processes at once into one folder, merged by `worklist`, give the same
    /// worklist as one machine.
    @Test func shardsMergeIntoTheSingleMachineWorklist() throws {
        let slides = try makeSlides(7)
        let single = dir.file("single"), sharded = dir.file("sharded")
        let m = try model()
        let base = ["triage", slides.path, "--model", m, "--quiet", "--min-tissue", "0"]
        #expect(try CLI.run(base + ["--out", single.path]).status == 0)
        let results = try (1...3).map { k in
            try CLIBackground.start(base + ["--out", sharded.path, "--shard", "\(k)/3"])
        }.map { try $0.wait() }
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr))")
        let merged = try CLI.run(["worklist", sharded.path, "--json"])
        #expect(merged.status == 0)
        func key(_ rows: [[String: Any]]) -> [String] {
            rows.map { "\($0["rank"]!) \($0["name"]!) \($0["tumourFraction"] ?? "-")" }
        }
        #expect(key(try worklist(single)) == key(try worklist(sharded)))
    }

    @Test func shardPartitionIsDisjointAndCovering() throws {
        let names = (0..<500).map { "slide-\($0)" }
        for n in [1, 2, 3, 7] {
            let shards = try (1...n).map { try Shard(index: $0, count: n) }
            for name in names {
                #expect(shards.filter { $0.contains(slideName: name) }.count == 1)
            }
            if n > 1 {
                let sizes = shards.map { s in names.filter { s.contains(slideName: $0) }.count }
                #expect(sizes.min()! > 500 / n / 2, "unbalanced shards \(sizes)")
            }
        }
        #expect(throws: ScreenError.self) { try Shard.parse("0/3") }
        #expect(throws: ScreenError.self) { try Shard.parse("4/3") }
        #expect(throws: ScreenError.self) { try Shard.parse("x") }
        #expect(try Shard.parse("2/5") == Shard(index: 2, count: 5))
    }

    @Test func manifestsInTextAndCSV() throws {
        let slides = try makeSlides(2)
        let text = dir.file("list.txt"), csv = dir.file("list.csv")
        try "# slides\n\(slides.appendingPathComponent("slide-00.tiff").path)\n\nslides/slide-01.tiff\n".write(to: text, atomically: true, encoding: .utf8)
        try "path,case\nslides/slide-01.tiff,A\n".write(to: csv, atomically: true, encoding: .utf8)
        #expect(try SlideInputs.collect([text.path]).count == 2)
        #expect(try SlideInputs.collect([csv.path]) == [dir.url.appendingPathComponent("slides/slide-01.tiff").path])
        #expect(try SlideInputs.collect([slides.path]).count == 2)
    }
}

/// Starts `histoscreen` in the background, for concurrent shard processes.
enum CLIBackground {
    final class Handle {
        let process: Process
        let out: URL, err: URL
        init(process: Process, out: URL, err: URL) { self.process = process; self.out = out; self.err = err }
        func wait() throws -> CLI.Result {
            process.waitUntilExit()
            return CLI.Result(status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                              stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
        }
    }

    static func start(_ arguments: [String]) throws -> Handle {
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = arguments
        let token = UUID().uuidString
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hs-\(token).out")
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("hs-\(token).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        return Handle(process: process, out: out, err: err)
    }
}
