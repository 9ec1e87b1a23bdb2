import Foundation

/// Writes files so that a reader sees either the old file or the whole new one, never a
/// partial write: the bytes go to a temporary file in the same directory, which is then
/// renamed over the destination.
public enum AtomicFile {
    /// A temporary path beside `url`, for writers (like libtiff) that need a path.
    /// The name starts with a dot so that a half-written file is not mistaken for output.
    public static func temporaryURL(besides url: URL) -> URL {
        let dir = url.deletingLastPathComponent()
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        return dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(token)")
    }

    /// Writes `bytes` to `url` atomically.
    public static func write(_ bytes: some Collection<UInt8>, to url: URL) throws(ImagingError) {
        let temp = temporaryURL(besides: url)
        do {
            try Data(bytes).write(to: temp)
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw .unwritable(path: url.displayPath, reason: describe(error))
        }
        try commit(temporary: temp, to: url)
    }

    /// Writes UTF-8 text to `url` atomically.
    public static func write(text: String, to url: URL) throws(ImagingError) {
        try write(Array(text.utf8), to: url)
    }

    /// Renames a finished temporary file over `url`; removes the temporary on failure.
    public static func commit(temporary: URL, to url: URL) throws(ImagingError) {
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw .unwritable(path: url.displayPath, reason: reason)
        }
    }

    private static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain,
           let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        return ns.localizedDescription
    }
}

extension URL {
    /// The path as the user gave it (relative stays relative), for messages.
    public var displayPath: String { relativePath }
}
