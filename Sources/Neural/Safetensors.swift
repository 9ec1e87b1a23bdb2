import Foundation

/// Reads and writes the safetensors format (https://huggingface.co/docs/safetensors):
/// an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data section)
/// plus an optional `"__metadata__"` string map, then the raw little-endian data.
public enum Safetensors {
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var path: String
        public var problem: String
        public var description: String { "\(path): bad safetensors file: \(problem)" }
    }

    /// Serialises tensors (written in sorted-name order) and string metadata.
    public static func encode<T: NeuralScalar>(_ tensors: [String: Tensor<T>], metadata: [String: String] = [:]) -> [UInt8] {
        let names = tensors.keys.sorted()
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let size = MemoryLayout<T>.size
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": T.safetensorsDType, "shape": t.shape, "data_offsets": [offset, offset + t.count * size]]
            offset += t.count * size
        }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
        while json.count % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for name in names {
            tensors[name]!.data.withUnsafeBytes { out.append(contentsOf: $0) }  // x86-64 and arm64 are little-endian
        }
        return out
    }

    /// Parses a safetensors file into tensors of `T` (F32, F64 and F16 data are converted)
    /// and its metadata. Rejects truncated files, malformed headers, unknown dtypes, shapes
    /// that do not match the byte ranges, and overlapping or out-of-range data.
    public static func decode<T: NeuralScalar>(_ bytes: [UInt8], path: String, as _: T.Type = T.self) throws(Error)
        -> (tensors: [String: Tensor<T>], metadata: [String: String]) {
        func fail(_ problem: String) -> Error { Error(path: path, problem: problem) }
        guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes is shorter than the 8-byte header length") }
        let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength >= 2, headerLength <= UInt64(bytes.count - 8), headerLength < 100_000_000 else {
            throw fail("header length \(headerLength) does not fit in a \(bytes.count)-byte file")
        }
        let headerEnd = 8 + Int(headerLength)
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])),
              let header = object as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let dataLength = bytes.count - headerEnd
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        var tensors: [String: Tensor<T>] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw fail("__metadata__ is not a map of strings") }
                metadata = m
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            let elementSize: Int
            switch dtype {
            case "F32": elementSize = 4
            case "F64": elementSize = 8
            case "F16": elementSize = 2
            default: throw fail("tensor '\(name)' has dtype \(dtype); only F32, F64 and F16 are supported")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor '\(name)' has a negative dimension in \(shape)") }
            let count = shape.reduce(1, *)
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= dataLength else {
                throw fail("tensor '\(name)' data_offsets [\(begin), \(end)] are outside the \(dataLength)-byte data section")
            }
            guard end - begin == count * elementSize else {
                throw fail("tensor '\(name)' has shape \(shape) (\(count * elementSize) bytes as \(dtype)) but \(end - begin) bytes of data")
            }
            ranges.append((begin, end, name))
            var values = [T](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress! + headerEnd + begin
                for i in 0..<count {
                    switch elementSize {
                    case 4: values[i] = T(Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                    case 8: values[i] = T(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                    default:
                        #if arch(x86_64) || arch(arm64)
                        values[i] = T(Float(Float16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))))
                        #endif
                    }
                }
            }
            tensors[name] = Tensor(shape: shape, data: values)
        }
        ranges = ranges.filter { $0.1 > $0.0 }.sorted { $0.0 < $1.0 }  // empty tensors occupy no bytes
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw fail("tensors '\(a.2)' and '\(b.2)' overlap")
        }
        return (tensors, metadata)
    }
}
