import Foundation
import Neural

/// libFuzzer target: arbitrary bytes as an ONNX model. Import must succeed or throw, and an
/// imported graph must load (running once on a zero image) or throw, never trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data!, count: size))
    guard let (graph, weights) = try? ONNXImport.read(bytes, path: "fuzz.onnx", inputSize: 16) else { return 0 }
    // Keep each run small: skip graphs whose weights alone are large.
    guard weights.values.reduce(0, { $0 + $1.count }) <= 1 << 20 else { return 0 }
    _ = try? GraphEngine(graph: graph, weights: weights)
    return 0
}
