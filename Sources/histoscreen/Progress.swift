import Foundation

/// A progress line on stderr. On a terminal it redraws in place (at most 10 times a second);
/// otherwise (a log file, CI) it prints a plain line at most every 10 seconds, so logs stay short.
final class ProgressBar: @unchecked Sendable {  // every method takes `lock`
    private let enabled: Bool
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastDraw = 0.0
    private var drawn = false
    private let lock = NSRecursiveLock()

    init(enabled: Bool = true) { self.enabled = enabled }

    /// Draws `label` with a bar for `done` of `total` and a trailing `detail`.
    func update(_ label: String, done: Int, total: Int, detail: String, force: Bool = false) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date().timeIntervalSince1970
        guard force || now - lastDraw >= (interactive ? 0.1 : 10) || done == total else { return }
        lastDraw = now
        let width = 24
        let filled = total > 0 ? min(width, width * done / total) : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let line = "\(label) \(bar) \(done)/\(total) \(detail)"
        if interactive {
            write("\r\u{1B}[2K" + line)
            drawn = true
        } else {
            write(line + "\n")
        }
    }

    /// Ends the current line (so the next output starts on a fresh one).
    func finish(_ message: String? = nil) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        if interactive && drawn { write("\r\u{1B}[2K") }
        drawn = false
        if let message { write(message + "\n") }
    }

    func message(_ text: String) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        finish()
        write(text + "\n")
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}

/// "1h 02m", "3m 05s", "42s".
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh %02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm %02ds", s / 60, s % 60) }
    return "\(s)s"
}
