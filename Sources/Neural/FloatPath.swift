/// Helpers for the Float-only fast paths of generic layers: a layer checks
/// `Scalar.self == Float.self` (and `Kernels`), then hands its buffers to CKernels through these.

@inline(__always)
func isFloat<S: NeuralScalar>(_: S.Type) -> Bool { S.self == Float.self }

@inline(__always)
func withFloats<S: NeuralScalar, R>(_ a: [S], _ body: (UnsafePointer<Float>) -> R) -> R {
    precondition(S.self == Float.self, "withFloats: \(S.self) is not Float")
    return a.withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: Float.self)) }
}

@inline(__always)
func withFloatsOptional<S: NeuralScalar, R>(_ a: [S]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return withFloats(a) { body($0) }
}

@inline(__always)
func withMutableFloats<S: NeuralScalar, R>(_ a: inout [S], _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    precondition(S.self == Float.self, "withMutableFloats: \(S.self) is not Float")
    return a.withUnsafeMutableBufferPointer { body(UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: Float.self)) }
}

/// Like `withMutableFloats`, but passes nil (and touches nothing) when not `enabled`.
@inline(__always)
func withOptionalMutableFloats<S: NeuralScalar, R>(_ a: inout [S], enabled: Bool,
                                                  _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
    guard enabled else { return body(nil) }
    return withMutableFloats(&a) { body($0) }
}

extension Tensor {
    /// A tensor whose storage is not initialised: for outputs a kernel overwrites entirely.
    init(uninitializedShape shape: [Int]) {
        let count = shape.reduce(1, *)
        self.init(shape: shape, data: [T](unsafeUninitializedCapacity: count) { _, initialized in initialized = count })
    }
}

/// Runs `body(offset, count)` over `0..<total` split across the engine's threads, for
/// element-wise kernels (each part at least 64 Ki elements).
@inline(__always)
func parallelChunks(_ total: Int, _ body: (Int, Int) -> Void) {
    let parts = max(1, min(Threading.threadCount, total / 65_536))
    if parts == 1 { body(0, total); return }
    Threading.parallelFor(parts) { _, range in
        for part in range {
            let begin = total * part / parts, end = total * (part + 1) / parts
            body(begin, end - begin)
        }
    }
}
