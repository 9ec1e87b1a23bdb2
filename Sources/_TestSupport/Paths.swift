import Foundation

/// Where tests find the repository's files and the shared data set beside it.
public enum TestPaths {
    /// The package root (this file is Sources/_TestSupport/Paths.swift).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let samples = repositoryRoot.appendingPathComponent("Samples")
    public static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures")
    /// `../shared/data`, which developers and CI have beside the checkout.
    public static let sharedData = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data")

    public static let cmuSlide = samples.appendingPathComponent("slides/CMU-1-Small-Region.svs")
    public static let tcgaSlide = samples.appendingPathComponent("slides/TCGA-CR-7395-01A-01-TS1.svs")
}

/// A fresh temporary directory, removed when the value is deinitialised.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL

    public init(_ label: String = "histoscreen-test") {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// The names of the files in the directory, sorted.
    public func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
