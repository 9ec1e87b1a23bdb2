/// A failure to read or write an image file. Every case names the file.
public enum ImagingError: Error, Equatable, CustomStringConvertible {
    /// The file could not be decoded; `reason` is the codec's own message.
    case unreadable(path: String, reason: String)
    /// The file decoded, but its pixel format is not one HistoScreen handles.
    case unsupported(path: String, reason: String)
    /// Writing failed; `reason` says why. Nothing was left at `path`.
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "\(path): cannot read image: \(reason)"
        case let .unsupported(path, reason): "\(path): unsupported image: \(reason)"
        case let .unwritable(path, reason): "\(path): cannot write: \(reason)"
        }
    }
}
