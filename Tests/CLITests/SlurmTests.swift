import Foundation
import Imaging
import Neural
import Slides
import Testing
import _TestSupport

/// A real single-node Slurm (Debian's slurm-wlm, started by Scripts/slurm-local.sh) runs a
/// 3-task job array of Scripts/triage.sbatch over the sample slides and generated ones; the
/// merged worklist must equal a single-machine run's. .ci/run starts Slurm; the test runs
/// whenever `sinfo` answers (TriageCommandTests covers sharding with concurrent processes).
@Suite struct SlurmTests {
    static var slurmUp: Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sinfo")
        p.arguments = ["-h"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }
    @Test(.enabled(if: slurmUp, "no Slurm cluster is running (bash Scripts/slurm-local.sh start)"))
    func jobArrayMatchesSingleMachine() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("slides")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        for slide in [TestPaths.cmuSlide, TestPaths.tcgaSlide] {
            try FileManager.default.copyItem(at: slide, to: input.appendingPathComponent(slide.lastPathComponent))
        }
        for k in 0..<4 {
            let writer = PyramidalTIFFWriter(sizeLevel0: PixelSize(width: 320, height: 256), tileSize: 128, micronsPerPixel: (0.972, 0.972))
            try TestSlides.writeSquares(to: input.appendingPathComponent("generated-\(k).tiff"), writer: writer,
                                        squares: [(PixelPoint(x: 0, y: 0), PixelSize(width: 40 + 60 * k, height: 256))], color: (120, 40, 120))
        }
        let model = dir.file("centre.hsmodel")
        try SyntheticModel.centreDarkness().save(to: model)
        let options = ["--model", model.path, "--min-tissue", "0.25"]

        let single = dir.file("single")
        _ = try CLI.run(["triage", input.path, "--out", single.path, "--quiet"] + options)

        let sharded = dir.file("sharded")
        let sbatch = Process()
        sbatch.executableURL = URL(fileURLWithPath: "/usr/bin/sbatch")
        sbatch.arguments = ["--wait", "--array=0-2", "--output=\(dir.url.path)/task-%a.log",
                            TestPaths.repositoryRoot.appendingPathComponent("Scripts/triage.sbatch").path,
                            input.path, sharded.path] + options
        var environment = ProcessInfo.processInfo.environment
        environment["HISTOSCREEN"] = CLI.executable.path
        sbatch.environment = environment
        sbatch.currentDirectoryURL = dir.url
        let pipe = Pipe()
        sbatch.standardOutput = pipe
        sbatch.standardError = pipe
        try sbatch.run()
        sbatch.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(sbatch.terminationStatus == 0, "sbatch: \(output)")
        let logs = (0..<3).map { (try? String(contentsOf: dir.file("task-\($0).log"), encoding: .utf8)) ?? "(no log)" }
        #expect(logs.allSatisfy { !$0.contains("(no log)") }, "\(logs)")

        let merged = try CLI.run(["worklist", sharded.path])
        #expect(merged.status == 0)
        func rows(_ url: URL) throws -> [String] {
            let data = try Data(contentsOf: url.appendingPathComponent("worklist.json"))
            let list = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            return list.map { "\($0["rank"]!) \($0["name"]!) \($0["status"]!) \($0["tumourFraction"] ?? "-")" }
        }
        let expected = try rows(single)
        #expect(expected.count == 6)
        #expect(try rows(sharded) == expected, "\(logs)")
    }
}
