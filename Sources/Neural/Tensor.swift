/// A dense, row-major tensor. Image batches are NHWC: `[batch, height, width, channels]`,
/// so element (n, y, x, c) is at `((n * H + y) * W + x) * C + c`. Feature batches are
/// `[batch, features]`.
public struct Tensor<T: NeuralScalar>: Sendable, Equatable {
    public var shape: [Int]
    public var data: [T]

    public init(shape: [Int], repeating value: T = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        self.data = [T](repeating: value, count: shape.reduce(1, *))
    }

    public init(shape: [Int], data: [T]) {
        precondition(shape.reduce(1, *) == data.count, "Tensor: \(data.count) values for shape \(shape)")
        self.shape = shape
        self.data = data
    }

    public var count: Int { data.count }
    /// The leading (batch) dimension.
    public var batch: Int { shape[0] }
    /// Elements per batch item.
    public var itemCount: Int { shape.dropFirst().reduce(1, *) }

    /// The same data with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "reshape: \(shape) cannot become \(newShape)")
        return Tensor(shape: newShape, data: data)
    }

    /// Converts element type (e.g. Float weights to Double for gradient checks).
    public func converted<U: NeuralScalar>(to _: U.Type = U.self) -> Tensor<U> {
        Tensor<U>(shape: shape, data: data.map { U($0) })
    }
}

/// A trainable tensor with its gradient, or (for `isBuffer`) saved state such as batch
/// norm's running statistics. Named `<layer>.<tensor>`, e.g. `block1_conv1.kernel`.
public final class Parameter<T: NeuralScalar> {
    public let name: String
    /// Counts assignments and in-place changes of `value`, so that a compiled copy of the
    /// weights (the training forward pass's frozen prefix) knows when it is stale.
    public private(set) var version = 0
    public var value: Tensor<T> { didSet { version &+= 1 } }
    public var gradient: Tensor<T>
    /// True for state that is saved and loaded but not trained.
    public let isBuffer: Bool

    public init(name: String, value: Tensor<T>, isBuffer: Bool = false) {
        self.name = name
        self.value = value
        self.gradient = Tensor(shape: value.shape)
        self.isBuffer = isBuffer
    }

    public func zeroGradient() {
        gradient.data.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
