import Foundation

/// A reader of the protobuf wire format, for the few ONNX messages HistoScreen needs.
///
/// ONNX files are protobuf; rather than generate thousands of lines from onnx.proto with
/// swift-protobuf, this reads the wire format directly (varints, fixed 32/64-bit values and
/// length-delimited fields), checking every length against the bytes that remain, so a damaged
/// or hostile file gives an error, never a trap or an unbounded allocation.
public struct ProtoReader {
    public struct Failure: Error, Equatable {
        public var problem: String
        public var offset: Int
    }

    public enum WireType: Int { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    let bytes: UnsafeBufferPointer<UInt8>
    public private(set) var offset: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) {
        self.bytes = bytes
        self.offset = range.lowerBound
        self.end = range.upperBound
    }

    /// Runs `body` with a reader over all of `data`.
    public static func read<R>(_ data: [UInt8], _ body: (inout ProtoReader) throws(Failure) -> R) throws(Failure) -> R {
        try data.withUnsafeBufferPointer { buffer throws(Failure) -> R in
            var reader = ProtoReader(buffer, range: 0..<buffer.count)
            return try body(&reader)
        }
    }

    func fail(_ problem: String) -> Failure { Failure(problem: problem, offset: offset) }

    public var isAtEnd: Bool { offset >= end }

    public mutating func varint() throws(Failure) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw fail("a varint runs past the end of its message") }
            let byte = bytes[offset]
            offset += 1
            guard shift < 64 else { throw fail("a varint is longer than 10 bytes") }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// The next field's number and wire type, or nil at the end of the message.
    public mutating func field() throws(Failure) -> (number: Int, wire: WireType)? {
        guard !isAtEnd else { return nil }
        let key = try varint()
        guard let wire = WireType(rawValue: Int(key & 7)) else { throw fail("wire type \(key & 7) is not supported (groups are obsolete)") }
        guard key >> 3 > 0, key >> 3 < (1 << 29) else { throw fail("field number \(key >> 3) is out of range") }
        return (Int(key >> 3), wire)
    }

    public mutating func fixed32() throws(Failure) -> UInt32 {
        guard end - offset >= 4 else { throw fail("a 32-bit value runs past the end") }
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[offset + k]) << (8 * UInt32(k)) }
        offset += 4
        return v
    }

    public mutating func fixed64() throws(Failure) -> UInt64 {
        guard end - offset >= 8 else { throw fail("a 64-bit value runs past the end") }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
        offset += 8
        return v
    }

    /// The range of a length-delimited field's bytes, after which the reader continues.
    public mutating func lengthDelimited() throws(Failure) -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - offset) else { throw fail("a field of \(length) bytes runs past the end of its message") }
        let range = offset..<(offset + Int(length))
        offset += Int(length)
        return range
    }

    /// A reader over a nested message.
    public mutating func message() throws(Failure) -> ProtoReader {
        ProtoReader(bytes, range: try lengthDelimited())
    }

    public mutating func string() throws(Failure) -> String {
        let range = try lengthDelimited()
        guard let s = String(bytes: bytes[range], encoding: .utf8) else { throw fail("a string is not UTF-8") }
        return s
    }

    public mutating func data() throws(Failure) -> [UInt8] { Array(bytes[try lengthDelimited()]) }

    /// Skips a field of this wire type.
    public mutating func skip(_ wire: WireType) throws(Failure) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }

    /// A repeated int64 field, packed or not.
    public mutating func int64s(_ wire: WireType, into out: inout [Int64]) throws(Failure) {
        if wire == .lengthDelimited {
            var inner = try message()
            while !inner.isAtEnd { out.append(Int64(bitPattern: try inner.varint())) }
        } else {
            guard wire == .varint else { throw fail("an integer field has wire type \(wire)") }
            out.append(Int64(bitPattern: try varint()))
        }
    }

    /// A repeated float field, packed or not.
    public mutating func floats(_ wire: WireType, into out: inout [Float]) throws(Failure) {
        if wire == .lengthDelimited {
            var inner = try message()
            guard (inner.end - inner.offset) % 4 == 0 else { throw fail("packed floats are not a multiple of 4 bytes") }
            while !inner.isAtEnd { out.append(Float(bitPattern: try inner.fixed32())) }
        } else {
            guard wire == .fixed32 else { throw fail("a float field has wire type \(wire)") }
            out.append(Float(bitPattern: try fixed32()))
        }
    }
}

/// A writer of the protobuf wire format (for ONNX export).
public struct ProtoWriter {
    public private(set) var bytes: [UInt8] = []
    public init() {}

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func key(_ field: Int, _ wire: ProtoReader.WireType) { varint(UInt64(field << 3 | wire.rawValue)) }

    public mutating func int(_ field: Int, _ v: Int64) { key(field, .varint); varint(UInt64(bitPattern: v)) }
    public mutating func float(_ field: Int, _ v: Float) {
        key(field, .fixed32)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func data(_ field: Int, _ d: [UInt8]) { key(field, .lengthDelimited); varint(UInt64(d.count)); bytes += d }
    public mutating func string(_ field: Int, _ s: String) { data(field, Array(s.utf8)) }
    public mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        data(field, inner.bytes)
    }
    public mutating func packedInts(_ field: Int, _ values: [Int64]) {
        var inner = ProtoWriter()
        for v in values { inner.varint(UInt64(bitPattern: v)) }
        data(field, inner.bytes)
    }
    public mutating func packedFloats(_ field: Int, _ values: [Float]) {
        var inner = ProtoWriter()
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { inner.bytes.append(contentsOf: $0) } }
        data(field, inner.bytes)
    }
}
