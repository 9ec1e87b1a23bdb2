import Imaging

/// Matplotlib's viridis: perceptually uniform, readable in grey and with the common
/// colour-vision deficiencies. Linear interpolation between its values at 0, 0.1, …, 1.
public enum Viridis {
    static let anchors: [(UInt8, UInt8, UInt8)] = [
        (0x44, 0x01, 0x54), (0x48, 0x24, 0x75), (0x41, 0x44, 0x87), (0x35, 0x5f, 0x8d), (0x2a, 0x78, 0x8e),
        (0x21, 0x91, 0x8c), (0x22, 0xa8, 0x84), (0x44, 0xbf, 0x70), (0x7a, 0xd1, 0x51), (0xbd, 0xdf, 0x26),
        (0xfd, 0xe7, 0x25),
    ]

    /// The colour of a value on the fixed 0–1 scale (clamped).
    public static func color(_ value: Double) -> Color {
        let v = min(1, max(0, value.isFinite ? value : 0)) * 10
        let i = min(9, Int(v)), t = v - Double(i)
        let a = anchors[i], b = anchors[i + 1]
        func mix(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Double(x) + (Double(y) - Double(x)) * t).rounded()) }
        return Color(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}
