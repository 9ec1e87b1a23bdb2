/// Whether a forward pass trains (batch statistics, dropout, caches for backward) or infers.
public enum Mode: Sendable {
    case training, inference
}

/// One layer of a network. Shapes are per sample, without the batch dimension:
/// `[H, W, C]` for images (NHWC batches), `[F]` for feature vectors.
///
/// `forward` in `.training` mode keeps what `backward` needs; `backward` takes the loss
/// gradient with respect to the output, adds the weight gradients into `parameters`
/// (unless the layer is frozen) and returns the gradient with respect to the input.
public protocol Layer<Scalar>: AnyObject {
    associatedtype Scalar: NeuralScalar

    var name: String { get }
    /// Trainable tensors, then buffers (e.g. running statistics). Empty when parameter-free.
    var parameters: [Parameter<Scalar>] { get }
    /// A frozen layer computes no weight gradients; its parameters are not updated.
    var isFrozen: Bool { get set }

    func outputShape(inputShape: [Int]) -> [Int]
    /// Floating-point operations per sample (a multiply-add counts as 2).
    func flops(inputShape: [Int]) -> Int

    /// - Parameter retain: keep the inputs `backward` needs (false for layers that no
    ///   backward pass will reach, to save memory).
    func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar>
    /// - Returns: the input gradient, or nil when `needInputGradient` is false.
    func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>?
}

extension Layer {
    public var trainableParameters: [Parameter<Scalar>] { parameters.filter { !$0.isBuffer } }
    public func flops(inputShape: [Int]) -> Int { 0 }
}
