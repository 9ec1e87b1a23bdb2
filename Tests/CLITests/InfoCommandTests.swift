import Foundation
import Testing
import _TestSupport

/// `histoscreen info` end to end, through the built executable.
@Suite struct InfoCommandTests {
    @Test func humanReadable() throws {
        let result = try CLI.run(["info", TestPaths.cmuSlide.path, TestPaths.tcgaSlide.path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("2220 × 2967 px"))
        #expect(result.stdout.contains("0.499 × 0.499 (from openslide.mpp)"))
        #expect(result.stdout.contains("20×"))
        #expect(result.stdout.contains("2221 × 1783 px"))
        #expect(result.stdout.contains("µm per pixel  unknown"))
    }

    @Test func json() throws {
        let result = try CLI.run(["info", "--json", TestPaths.cmuSlide.path, TestPaths.tcgaSlide.path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(parsed.count == 2)
        let cmu = try #require(parsed[0]["metadata"] as? [String: Any])
        let resolution = try #require(cmu["resolution"] as? [String: Any])
        #expect(resolution["mppX"] as? Double == 0.499)
        #expect(resolution["source"] as? String == "openslide.mpp")
        #expect(cmu["objectivePower"] as? Double == 20)
        #expect((cmu["levels"] as? [Any])?.count == 1)
        let tcga = try #require(parsed[1]["metadata"] as? [String: Any])
        let tcgaResolution = try #require(tcga["resolution"] as? [String: Any])
        #expect(tcgaResolution["source"] as? String == "unknown")
        #expect(tcgaResolution["mppX"] == nil)
    }

    /// A bad slide among good ones: the good ones are still reported, the bad one is named
    /// on stderr, and the exit status is non-zero.
    @Test func badSlideAmongGoodOnes() throws {
        let dir = TemporaryDirectory()
        let empty = dir.file("empty.svs")
        try Data().write(to: empty)
        let missing = dir.file("missing.svs").path
        let result = try CLI.run(["info", "--json", missing, TestPaths.cmuSlide.path, empty.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(missing): no such file"))
        #expect(result.stderr.contains("\(empty.path): the file is empty"))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(parsed.map { $0["ok"] as? Bool } == [false, true, false])
    }

    @Test(arguments: ["jpeg-renamed.svs"])
    func notASlide(name: String) throws {
        let path = TestPaths.fixtures.appendingPathComponent(name).path
        let result = try CLI.run(["info", path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(path): not a slide"))
        #expect(result.stderr.contains("HINT:"))
    }

    @Test func helpListsTheCommand() throws {
        let result = try CLI.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("info"))
    }
}
