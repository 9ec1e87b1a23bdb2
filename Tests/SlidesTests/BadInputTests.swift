import Foundation
import Imaging
import Slides
import Testing
import _TestSupport

/// Every kind of bad input gives a typed error whose message names the file.
@Suite struct BadInputTests {
    let dir = TemporaryDirectory()

    func openError(_ url: URL) -> SlideError? {
        do {
            _ = try openSlide(at: url)
            return nil
        } catch {
            return error
        }
    }

    @Test func missingPath() {
        let url = dir.file("absent.svs")
        #expect(openError(url) == .notFound(path: url.path))
        #expect(openError(url)!.description.contains(url.path))
    }

    @Test func directory() {
        #expect(openError(dir.url) == .isDirectory(path: dir.url.path))
    }

    @Test func zeroByteFile() throws {
        let url = dir.file("empty.svs")
        try Data().write(to: url)
        #expect(openError(url) == .emptyFile(path: url.path))
    }

    @Test func textFile() throws {
        let url = dir.file("notes.svs")
        try Data("this is not a slide\n".utf8).write(to: url)
        guard case .notASlide(let path, _)? = openError(url) else {
            Issue.record("expected notASlide, got \(String(describing: openError(url)))")
            return
        }
        #expect(path == url.path)
    }

    @Test func jpegRenamedSVS() {
        let url = TestPaths.fixtures.appendingPathComponent("jpeg-renamed.svs")
        guard case .notASlide(let path, _)? = openError(url) else {
            Issue.record("expected notASlide, got \(String(describing: openError(url)))")
            return
        }
        #expect(path == url.path)
    }

    /// The first 100 kB of a real SVS: OpenSlide must fail at open or at the first read,
    /// with an error that names the file, and nothing may crash.
    @Test func truncatedSVS() throws {
        let url = dir.file("truncated.svs")
        let bytes = try Data(contentsOf: TestPaths.cmuSlide).prefix(100_000)
        try bytes.write(to: url)
        let error: SlideError?
        do {
            let slide = try openSlide(at: url)
            _ = try slide.readRegion(originLevel0: PixelPoint(x: 0, y: 0), level: 0,
                                     sizeAtLevel: slide.metadata.sizeLevel0)
            error = nil
        } catch let e {
            error = e
        }
        let e = try #require(error)
        #expect(e.path == url.path)
        #expect(e.description.hasPrefix(url.path))
    }

    @Test func badRegions() throws {
        let slide = try openSlide(at: TestPaths.cmuSlide)
        let path = slide.path
        #expect(throws: SlideError.invalidRegionSize(path: path, sizeAtLevel: PixelSize(width: -1, height: 10))) {
            try slide.readRegion(originLevel0: .init(x: 0, y: 0), level: 0, sizeAtLevel: .init(width: -1, height: 10))
        }
        #expect(throws: SlideError.invalidRegionSize(path: path, sizeAtLevel: PixelSize(width: 0, height: 10))) {
            try slide.readRegion(originLevel0: .init(x: 0, y: 0), level: 0, sizeAtLevel: .init(width: 0, height: 10))
        }
        #expect(throws: SlideError.levelOutOfRange(path: path, level: 1, levelCount: 1)) {
            try slide.readRegion(originLevel0: .init(x: 0, y: 0), level: 1, sizeAtLevel: .init(width: 8, height: 8))
        }
        #expect(throws: SlideError.levelOutOfRange(path: path, level: -1, levelCount: 1)) {
            try slide.readRegion(originLevel0: .init(x: 0, y: 0), level: -1, sizeAtLevel: .init(width: 8, height: 8))
        }
        for origin in [PixelPoint(x: 2220, y: 0), PixelPoint(x: 0, y: 2967), PixelPoint(x: -8, y: 0), PixelPoint(x: 5000, y: 5000)] {
            #expect(throws: SlideError.self, "origin \(origin)") {
                try slide.readRegion(originLevel0: origin, level: 0, sizeAtLevel: .init(width: 8, height: 8))
            }
        }
        #expect(throws: SlideError.regionTooLarge(path: path, sizeAtLevel: PixelSize(width: 100_000, height: 100_000),
                                                  maxPixels: maxRegionPixels)) {
            try slide.readRegion(originLevel0: .init(x: 0, y: 0), level: 0, sizeAtLevel: .init(width: 100_000, height: 100_000))
        }
        // The slide still reads after rejected requests: validation happens before OpenSlide
        // sees them, so its sticky error state is untouched.
        _ = try slide.readRegion(originLevel0: .init(x: 0, y: 0), level: 0, sizeAtLevel: .init(width: 8, height: 8))
    }

    @Test func messagesNameTheFileAndTheProblem() {
        let cases: [(SlideError, String)] = [
            (.notFound(path: "/x/a.svs"), "no such file"),
            (.emptyFile(path: "/x/a.svs"), "empty"),
            (.levelOutOfRange(path: "/x/a.svs", level: 3, levelCount: 2), "level 3 does not exist"),
            (.regionOutsideSlide(path: "/x/a.svs", originLevel0: .init(x: 9, y: 9), sizeAtLevel: .init(width: 1, height: 1),
                                 level: 0, sizeLevel0: .init(width: 2, height: 2)), "outside the slide"),
        ]
        for (error, phrase) in cases {
            #expect(error.description.hasPrefix("/x/a.svs: "))
            #expect(error.description.contains(phrase))
        }
    }
}

/// Damaged copies of the real CMU sample: each fails by name, never opens as a whole slide.
@Suite struct DamagedSlideTests {
    let dir = TemporaryDirectory()

    @Test(arguments: [CorruptCopies.Damage.truncated99, .truncated60, .tileOffsetZeroed, .directoryFlipped])
    func structuralDamageIsRefusedOnOpen(_ damage: CorruptCopies.Damage) throws {
        let url = dir.file("\(damage.rawValue).svs")
        try CorruptCopies.write(TestPaths.cmuSlide, damage, to: url)
        #expect {
            _ = try openSlide(at: url)
        } throws: { error in
            guard case let .damaged(path, reason) = error as? SlideError else { return false }
            let truncated = damage == .truncated99 || damage == .truncated60
            return path.hasSuffix("\(damage.rawValue).svs") && (!truncated || reason.contains("truncated"))
        }
    }

    /// Damaged tile data opens (the structure is intact) but reading the tile fails.
    @Test func damagedTileDataFailsOnRead() throws {
        let url = dir.file("flipped.svs")
        try CorruptCopies.write(TestPaths.cmuSlide, .tileDataFlipped, to: url)
        let slide = try openSlide(at: url)
        let size = slide.metadata.sizeLevel0
        // The message says where: the tile (direct reader) or the region (OpenSlide).
        #expect {
            _ = try slide.readRegion(originLevel0: PixelPoint(x: 0, y: 0), level: 0, sizeAtLevel: size)
        } throws: { error in
            let text = "\(error)"
            return text.contains("flipped.svs") && (text.contains("tile ") || text.contains("at level-0 ("))
        }
    }
}
