import Neural

/// libFuzzer target: arbitrary bytes as a safetensors file. Must give tensors or a thrown
/// error, never a trap or a memory error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? Safetensors.decode(bytes, path: "fuzz", as: Float.self)
    return 0
}

