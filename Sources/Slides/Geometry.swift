/// A pixel position. The frame (level 0 or a given level) is named by the property or
/// argument that holds it, e.g. `originLevel0`.
public struct PixelPoint: Sendable, Hashable, Codable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public init(x: Int, y: Int) { self.x = x; self.y = y }
    public var description: String { "(\(x), \(y))" }
}

/// A size in pixels. The frame is named by the property that holds it, e.g. `sizeAtLevel`.
public struct PixelSize: Sendable, Hashable, Codable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    public var description: String { "\(width)×\(height)" }
}
