import Foundation

/// Runs the built `histoscreen` executable, for end-to-end tests of the CLI.
public enum CLI {
    public struct Result: Sendable {
        public init(status: Int32, stdout: String, stderr: String) { self.status = status; self.stdout = stdout; self.stderr = stderr }
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The executable beside the test bundle (`.build/<config>/histoscreen`), or the path in
    /// `HISTOSCREEN_BIN`.
    public static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["HISTOSCREEN_BIN"] { return URL(fileURLWithPath: path) }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = me.deletingLastPathComponent()
        // The test binary may sit inside a .xctest bundle folder on some platforms.
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("histoscreen").path),
              dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("histoscreen")
    }

    /// Runs `histoscreen` with `arguments` from `directory` and waits for it.
    public static func run(_ arguments: [String], in directory: URL? = nil,
                           environment: [String: String] = [:], executable: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable ?? Self.executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain both pipes concurrently so a full pipe cannot block the child.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
