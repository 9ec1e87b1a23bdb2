/// In training, `layers[i]` and the ReLU after it as one pass, when `layers[i]` is a batch norm
/// that can fuse it (the ReLU's backward pass is then part of the batch norm's); nil otherwise,
/// and nothing is run. Used by `Network` and `LayerChain` alike.
func fusedBatchNormReLU<T: NeuralScalar>(_ layers: [any Layer<T>], at i: Int, _ x: Tensor<T>, mode: Mode,
                                         retain: Bool) -> Tensor<T>? {
    guard mode == .training, i + 1 < layers.count, let bn = layers[i] as? BatchNorm<T>,
          let relu = layers[i + 1] as? ReLU<T>, let y = bn.forwardFusingReLU(x, retain: retain) else { return nil }
    relu.adoptOutput(y, mode: mode, retain: retain)
    return y
}

/// Layers run one after another inside a larger layer, as the network runs its own: in
/// training, a batch norm and the ReLU after it run as one pass each way.
public final class LayerChain<Scalar: NeuralScalar> {
    public let layers: [any Layer<Scalar>]
    /// The per-sample input shape of each layer, and finally the output shape.
    public let shapes: [[Int]]
    /// ReLU layers whose work the batch norm before them did in the last forward pass.
    private var fusedReLUs: Set<Int> = []

    public init(layers: [any Layer<Scalar>], shapes: [[Int]]) {
        precondition(shapes.count == layers.count + 1, "a chain of \(layers.count) layers needs \(layers.count + 1) shapes")
        self.layers = layers
        self.shapes = shapes
    }

    public var outputShape: [Int] { shapes.last! }
    public var parameters: [Parameter<Scalar>] { layers.flatMap { $0.parameters } }
    public func flops() -> Int { zip(layers, shapes).reduce(0) { $0 + $1.0.flops(inputShape: $1.1) } }

    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        fusedReLUs = []
        var h = x, i = 0
        while i < layers.count {
            if let y = fusedBatchNormReLU(layers, at: i, h, mode: mode, retain: retain) {
                fusedReLUs.insert(i + 1)
                h = y
                i += 2
                continue
            }
            h = layers[i].forward(h, mode: mode, retain: retain)
            i += 1
        }
        return h
    }

    /// The input gradient; every layer's weight gradients are added on the way.
    public func backward(_ dy: Tensor<Scalar>) -> Tensor<Scalar> {
        var g = dy
        for i in stride(from: layers.count - 1, through: 0, by: -1) where !fusedReLUs.contains(i) {
            g = layers[i].backward(g, needInputGradient: true)!
        }
        return g
    }
}

/// A residual block's sum, `branch(x) + shortcut(x)`, as in He et al. 2016. The shortcut is
/// `x` itself unless it has layers (a 1×1 convolution and batch norm, where the branch changes
/// the channel count). The ReLU of a ResNet block is the next layer of the network.
public final class Residual<Scalar: NeuralScalar>: Layer {
    public let name: String
    public let branch: LayerChain<Scalar>
    public let shortcut: LayerChain<Scalar>
    public var isFrozen = false {
        didSet { for layer in branch.layers + shortcut.layers { layer.isFrozen = isFrozen } }
    }

    /// - Precondition: both paths map the same input shape to the same output shape.
    public init(name: String, branch: LayerChain<Scalar>, shortcut: LayerChain<Scalar>) {
        precondition(branch.shapes[0] == shortcut.shapes[0] && branch.outputShape == shortcut.outputShape,
                     "\(name): the branch maps \(branch.shapes[0]) to \(branch.outputShape), the shortcut \(shortcut.shapes[0]) to \(shortcut.outputShape)")
        self.name = name
        self.branch = branch
        self.shortcut = shortcut
    }

    public var parameters: [Parameter<Scalar>] { branch.parameters + shortcut.parameters }
    public func outputShape(inputShape: [Int]) -> [Int] { branch.outputShape }
    /// The paths' FLOPs and one addition per output element.
    public func flops(inputShape: [Int]) -> Int { branch.flops() + shortcut.flops() + branch.outputShape.reduce(1, *) }

    public func forward(_ x: Tensor<Scalar>, mode: Mode, retain: Bool) -> Tensor<Scalar> {
        var y = branch.forward(x, mode: mode, retain: retain)
        Self.add(shortcut.forward(x, mode: mode, retain: retain), into: &y)
        return y
    }

    public func backward(_ dy: Tensor<Scalar>, needInputGradient: Bool) -> Tensor<Scalar>? {
        // Both paths get dy; the input's gradient is the sum of theirs. Weight gradients are
        // needed even when the input's is not, so both paths always run backward.
        var dx = branch.backward(dy)
        Self.add(shortcut.backward(dy), into: &dx)
        return needInputGradient ? dx : nil
    }

    private static func add(_ a: Tensor<Scalar>, into y: inout Tensor<Scalar>) {
        precondition(a.shape == y.shape, "residual sum of \(a.shape) and \(y.shape)")
        a.data.withUnsafeBufferPointer { ap in
            y.data.withUnsafeMutableBufferPointer { yp in
                for i in 0..<yp.count { yp[i] += ap[i] }
            }
        }
    }
}
