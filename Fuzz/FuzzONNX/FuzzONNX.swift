import Foundation
import Neural

/// libFuzzer target: arbitrary bytes as an ONNX model. Import must succeed or throw, and an
/// imported graph must load (running on zero images with plain loops) or throw, then run three
/// images on the kernel layer, channels-last, in chunks, or throw; never trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data!, count: size))
    guard let (graph, weights) = try? ONNXImport.read(bytes, path: "fuzz.onnx", inputSize: 16) else { return 0 }
    // Keep each run small: skip graphs whose weights alone are large.
    guard weights.values.reduce(0, { $0 + $1.count }) <= 1 << 20 else { return 0 }
    guard let engine = try? GraphEngine(graph: graph, weights: weights) else { return 0 }
    let size = graph.inputShape.reduce(1, *)
    guard size <= 1 << 16 else { return 0 }
    engine.imagesPerChunk = 2
    let input = (0..<(3 * size)).map { Float($0 % 7) / 7 - 0.5 }
    _ = try? input.withUnsafeBufferPointer { try engine.run(channelsLast: $0.baseAddress!, batch: 3) }
    return 0
}
