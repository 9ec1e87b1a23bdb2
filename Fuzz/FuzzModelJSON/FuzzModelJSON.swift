import Foundation
import Neural

/// libFuzzer target: arbitrary bytes as a bundle's model.json. Decoding, the value checks and
/// building the network must give a network or a thrown error, never a trap, and never
/// allocate more than the network size limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? Data() : Data(bytes: data!, count: size)
    guard let manifest = try? JSONDecoder().decode(ModelManifest.self, from: bytes) else { return 0 }
    _ = try? manifest.threshold(operatingPoint: "balanced")
    _ = try? Network<Float>(spec: manifest.architecture)
    return 0
}
