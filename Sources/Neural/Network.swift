import Foundation

/// Why a model spec cannot be built into a network.
public struct ModelSpecError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Seconds spent in each layer, summed over passes.
public final class LayerProfile {
    public private(set) var forward: [Double]
    public private(set) var backward: [Double]
    public init(layers: Int) {
        forward = [Double](repeating: 0, count: layers)
        backward = forward
    }
    func add(layer: Int, forward seconds: Double) { forward[layer] += seconds }
    func add(layer: Int, backward seconds: Double) { backward[layer] += seconds }
}

/// A feed-forward network built from a `ModelSpec`: NHWC input `[N, H, W, C]`, one logit
/// per sample out (`[N, 1]`).
public final class Network<T: NeuralScalar> {
    public let spec: ModelSpec
    public let layers: [any Layer<T>]
    /// The per-sample input shape of each layer, and finally the output shape.
    public let shapes: [[Int]]

    /// Builds the layers and initialises weights from `seed`: He-normal kernels, zero biases,
    /// batch norm γ = 1, β = 0.
    public init(spec: ModelSpec, seed: UInt64 = 0) throws(ModelSpecError) {
        EngineMemory.configure()
        self.spec = spec
        var generator = SplitMix64(seed: seed)
        let shape = spec.inputShape
        guard shape.count == 3, shape.allSatisfy({ $0 > 0 }) else {
            throw ModelSpecError("model '\(spec.name)': input shape \(shape) is not [H, W, C]")
        }
        guard shape[0] <= Self.maximumSide, shape[1] <= Self.maximumSide, shape[2] <= Self.maximumUnits else {
            throw ModelSpecError("model '\(spec.name)': input shape \(shape) is larger than \(Self.maximumSide)×\(Self.maximumSide)×\(Self.maximumUnits)")
        }
        var builder = Builder(spec: spec, seed: seed)
        let (layers, shapes) = try builder.chain(spec.layers, input: shape, generator: &generator, depth: 0, indexBase: 0)
        guard shapes.last == [1] else {
            throw ModelSpecError("model '\(spec.name)': the last layer must give one logit per sample, got shape \(shapes.last!)")
        }
        self.layers = layers
        self.shapes = shapes
    }

    /// Builds layers from specs, recursively for residual blocks, checking every size read
    /// from the file before anything is allocated.
    private struct Builder {
        let spec: ModelSpec
        let seed: UInt64
        var names = Set<String>()
        var parameterCount = 0

        init(spec: ModelSpec, seed: UInt64) { self.spec = spec; self.seed = seed }

        /// The layers of `specs` on an input of `input`, and each layer's input shape, then the output's.
        mutating func chain(_ specs: [LayerSpec], input: [Int], generator: inout SplitMix64, depth: Int,
                            indexBase: Int) throws(ModelSpecError) -> ([any Layer<T>], [[Int]]) {
            var layers: [any Layer<T>] = [], shapes = [input], shape = input
            for (offset, l) in specs.enumerated() {
                let layer = try build(l, index: indexBase + offset, shape: &shape, generator: &generator, depth: depth)
                layers.append(layer)
                shapes.append(shape)
            }
            return (layers, shapes)
        }

        /// One layer on an input of `shape`, which becomes its output shape.
        mutating func build(_ l: LayerSpec, index: Int, shape: inout [Int], generator: inout SplitMix64,
                            depth: Int) throws(ModelSpecError) -> any Layer<T> {
            let spec = self.spec
            guard names.insert(l.name).inserted else {
                throw ModelSpecError("model '\(spec.name)': layer name '\(l.name)' is used twice")
            }
            func need<V>(_ value: V?, _ field: String) throws(ModelSpecError) -> V {
                guard let value else { throw ModelSpecError("model '\(spec.name)': layer '\(l.name)' (\(l.type.rawValue)) needs '\(field)'") }
                return value
            }
            let isImage = shape.count == 3
            // Sizes come from a file: each is bounded before anything is divided by it or allocated.
            func bounded(_ value: Int?, _ field: String, _ range: ClosedRange<Int>) throws(ModelSpecError) {
                if let value, !range.contains(value) {
                    throw ModelSpecError("model '\(spec.name)': layer '\(l.name)' (\(l.type.rawValue)) has \(field) \(value); it must lie in \(range.lowerBound)...\(range.upperBound)")
                }
            }
            try bounded(l.kernel, "kernel", 1...Network.maximumKernel)
            try bounded(l.stride, "stride", 1...Network.maximumKernel)
            try bounded(l.units, "units", 1...Network.maximumUnits)
            if case let .explicit(p)? = l.padding {
                for v in [p.top, p.bottom, p.left, p.right] { try bounded(v, "padding", 0...Network.maximumKernel) }
            }
            if let e = l.epsilon, !(e.isFinite && e > 0) { throw ModelSpecError("model '\(spec.name)': batchnorm '\(l.name)' epsilon \(e) must be positive") }
            if let m = l.momentum, !(m.isFinite && m >= 0 && m <= 1) {
                throw ModelSpecError("model '\(spec.name)': batchnorm '\(l.name)' momentum \(m) must lie in [0, 1]")
            }
            let layer: any Layer<T>
            switch l.type {
            case .conv2d:
                guard isImage else { throw ModelSpecError("model '\(spec.name)': conv2d '\(l.name)' needs an image input, got \(shape)") }
                let k = try need(l.kernel, "kernel"), filters = try need(l.units, "units"), stride = l.stride ?? 1
                let padding: Padding2D? = switch l.padding ?? .same {
                case .same: nil
                case .valid: .zero
                case let .explicit(p): p
                }
                let outH = (shape[0] + (padding?.top ?? 0) + (padding?.bottom ?? 0) - k) / stride + 1
                // Kernel, units and stride were bounded above; what is left is a kernel larger than its padded input.
                guard padding == nil || outH >= 1 else {
                    throw ModelSpecError("model '\(spec.name)': conv2d '\(l.name)' kernel \(k) is larger than its padded input \(shape)")
                }
                try Network.checkSize([k, k, shape[2], filters], of: l.name, in: spec.name, adding: &parameterCount)
                let conv = Conv2D<T>(name: l.name, inputChannels: shape[2], outputChannels: filters, kernelSize: (k, k),
                                     stride: stride, padding: padding, useBias: l.bias ?? true)
                Network.heNormal(conv.kernel, fanIn: k * k * shape[2], using: &generator)
                layer = conv
            case .batchnorm:
                layer = BatchNorm<T>(name: l.name, channels: shape.last!, epsilon: T(l.epsilon ?? 1e-3),
                                     momentum: T(l.momentum ?? 0.99))
            case .relu:
                layer = ReLU<T>(name: l.name)
            case .maxpool:
                guard isImage else { throw ModelSpecError("model '\(spec.name)': maxpool '\(l.name)' needs an image input") }
                let size = l.kernel ?? 2
                guard shape[0] >= size, shape[1] >= size else {
                    throw ModelSpecError("model '\(spec.name)': maxpool '\(l.name)' window \(size) is larger than its input \(shape)")
                }
                layer = MaxPool2D<T>(name: l.name, size: size, stride: l.stride ?? size)
            case .globalAveragePool:
                guard isImage else { throw ModelSpecError("model '\(spec.name)': globalAveragePool '\(l.name)' needs an image input") }
                layer = GlobalAveragePool<T>(name: l.name)
            case .flatten:
                layer = Flatten<T>(name: l.name)
            case .dense:
                guard shape.count == 1 else {
                    throw ModelSpecError("model '\(spec.name)': dense '\(l.name)' needs a feature vector; add flatten or globalAveragePool before it")
                }
                let units = try need(l.units, "units")
                try Network.checkSize([shape[0], units], of: l.name, in: spec.name, adding: &parameterCount)
                let dense = Dense<T>(name: l.name, inputFeatures: shape[0], outputFeatures: units, useBias: l.bias ?? true)
                Network.heNormal(dense.kernel, fanIn: shape[0], using: &generator)
                layer = dense
            case .dropout:
                let rate = try need(l.rate, "rate")
                guard rate >= 0, rate < 1 else { throw ModelSpecError("model '\(spec.name)': dropout '\(l.name)' rate \(rate) is not in [0, 1)") }
                layer = Dropout<T>(name: l.name, rate: rate, seed: seed &+ UInt64(index) &* 0x9E37_79B9)
            case .residual:
                guard depth < Network.maximumResidualDepth else {
                    throw ModelSpecError("model '\(spec.name)': residual '\(l.name)' nests more than \(Network.maximumResidualDepth) deep")
                }
                guard let branchSpecs = l.layers, !branchSpecs.isEmpty else {
                    throw ModelSpecError("model '\(spec.name)': residual '\(l.name)' needs 'layers' (its branch)")
                }
                // Distinct from the top level's indices, so dropout seeds never coincide.
                let base = (index + 1) << 16
                let (branch, branchShapes) = try chain(branchSpecs, input: shape, generator: &generator, depth: depth + 1, indexBase: base)
                let (shortcut, shortcutShapes) = try chain(l.shortcut ?? [], input: shape, generator: &generator, depth: depth + 1,
                                                           indexBase: base + branchSpecs.count)
                guard branchShapes.last == shortcutShapes.last else {
                    throw ModelSpecError("model '\(spec.name)': residual '\(l.name)': its branch gives \(branchShapes.last!) but its shortcut \(shortcutShapes.last!); give the shortcut layers that match (e.g. a 1×1 conv2d and batchnorm)")
                }
                layer = Residual<T>(name: l.name, branch: LayerChain(layers: branch, shapes: branchShapes),
                                    shortcut: LayerChain(layers: shortcut, shapes: shortcutShapes))
            }
            shape = layer.outputShape(inputShape: shape)
            guard shape.allSatisfy({ $0 >= 1 }) else {
                throw ModelSpecError("model '\(spec.name)': layer '\(l.name)' gives an empty output \(shape)")
            }
            var activations = 0
            try Network.checkSize(shape, of: l.name, in: spec.name, adding: &activations)
            return layer
        }
    }

    /// Limits on sizes read from model files: far above any patch classifier, small enough that
    /// no product of them overflows and every tensor can be allocated.
    public static var maximumSide: Int { 8192 }
    public static var maximumKernel: Int { 64 }
    public static var maximumUnits: Int { 65_536 }
    public static var maximumParameters: Int { 1 << 28 }
    /// Residual blocks nest at most this deep (a file cannot exhaust the stack).
    public static var maximumResidualDepth: Int { 8 }

    /// Adds the element count of `shape` to `total`, refusing an overflow or more than
    /// `maximumParameters` (1 GiB of Float) before anything of that size is allocated.
    static func checkSize(_ shape: [Int], of layer: String, in model: String, adding total: inout Int) throws(ModelSpecError) {
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= maximumParameters else {
                throw ModelSpecError("model '\(model)': layer '\(layer)' needs a tensor of shape \(shape), more than \(maximumParameters) values")
            }
            count = product
        }
        let (sum, overflow) = total.addingReportingOverflow(count)
        guard !overflow, sum <= maximumParameters else {
            throw ModelSpecError("model '\(model)': more than \(maximumParameters) values by layer '\(layer)'")
        }
        total = sum
    }

    private static func heNormal(_ p: Parameter<T>, fanIn: Int, using generator: inout SplitMix64) {
        let std = (2 / Double(fanIn)).squareRoot()
        var i = 0
        while i < p.value.count {
            // Box–Muller: two normals per pair of uniforms.
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator)
            let u2 = Double.random(in: 0..<1, using: &generator)
            let r = (-2 * Foundation.log(u1)).squareRoot()
            p.value.data[i] = T(std * r * Foundation.cos(2 * .pi * u2))
            if i + 1 < p.value.count { p.value.data[i + 1] = T(std * r * Foundation.sin(2 * .pi * u2)) }
            i += 2
        }
    }

    // MARK: Parameters

    /// Every tensor saved with the model (trainable ones and buffers), in layer order.
    public var parameters: [Parameter<T>] { layers.flatMap { $0.parameters } }

    /// Tensors the optimiser updates: not buffers, not in frozen layers.
    public var trainableParameters: [Parameter<T>] {
        layers.filter { !$0.isFrozen }.flatMap { $0.trainableParameters }
    }

    /// The number of scalars in `trainableParameters` (or in all non-buffer tensors).
    public func parameterCount(trainableOnly: Bool = false) -> Int {
        (trainableOnly ? trainableParameters : layers.flatMap { $0.trainableParameters }).reduce(0) { $0 + $1.value.count }
    }

    /// Floating-point operations of one forward pass per sample.
    public var flopsPerSample: Int {
        zip(layers, shapes).reduce(0) { $0 + $1.0.flops(inputShape: $1.1) }
    }

    /// Freezes every layer before `name` and unfreezes it and the layers after it
    /// (Keras's "block5 trainable"). nil unfreezes everything.
    public func setTrainable(from name: String?) throws(ModelSpecError) {
        guard let name else {
            for layer in layers { layer.isFrozen = false }
            return
        }
        guard let start = layers.firstIndex(where: { $0.name == name }) else {
            throw ModelSpecError("model '\(spec.name)' has no layer '\(name)'; layers: \(layers.map(\.name).joined(separator: ", "))")
        }
        for (i, layer) in layers.enumerated() { layer.isFrozen = i < start }
    }

    public func zeroGradients() {
        for p in parameters { p.zeroGradient() }
    }

    /// The index of the first layer a backward pass must reach: the first unfrozen layer with
    /// parameters. Layers before it keep no caches in training.
    var firstTrainableLayer: Int {
        layers.firstIndex { !$0.isFrozen && !$0.trainableParameters.isEmpty } ?? layers.count
    }

    // MARK: Passes

    /// Logits `[N, 1]` for a batch `[N, H, W, C]`.
    public func forward(_ x: Tensor<T>, mode: Mode = .inference) -> Tensor<T> {
        precondition(Array(x.shape.dropFirst()) == spec.inputShape,
                     "model '\(spec.name)': input \(x.shape) does not match [N] + \(spec.inputShape)")
        let first = firstTrainableLayer
        var h = x
        var start = 0
        if mode == .training, first > 0, let engine = prefixEngine(first) {
            // The frozen layers before the first trainable one keep nothing for the backward
            // pass and behave as at inference (frozen batch norm uses its running statistics),
            // so they run on the inference engine: BN folded, ReLU fused, one image per worker
            // at a time. Its time is counted on the first layer when profiling.
            let begin = profileClock()
            let out = withFloats(x.data) { engine.outputs($0, count: x.batch) }
            h = Tensor(shape: [x.batch] + shapes[first], data: out.map { T($0) })
            profile?.add(layer: 0, forward: profileSeconds(since: begin))
            start = first
        }
        fusedReLUs = []
        var i = start
        while i < layers.count {
            let begin = profileClock()
            let retain = mode == .training && i >= first
            // Training: batch norm and the ReLU after it run as one pass (and their backward
            // passes as one), which saves a sweep over the activations each way.
            if let y = fusedBatchNormReLU(layers, at: i, h, mode: mode, retain: retain) {
                fusedReLUs.insert(i + 1)
                h = y
                profile?.add(layer: i, forward: profileSeconds(since: begin))
                i += 2
                continue
            }
            h = layers[i].forward(h, mode: mode, retain: retain)
            profile?.add(layer: i, forward: profileSeconds(since: begin))
            i += 1
        }
        return h
    }

    /// ReLU layers whose work the batch norm before them did in the last forward pass; their
    /// backward pass is part of the batch norm's.
    private var fusedReLUs: Set<Int> = []

    /// The compiled frozen prefix `layers[0..<first]`, rebuilt when `first` or any of its
    /// weights change; nil where it does not apply (not Float, a Dropout in the prefix, or a
    /// layer without a fast kernel).
    private var prefix: (first: Int, versions: [Int], engine: InferenceEngine)?

    func prefixEngine(_ first: Int) -> InferenceEngine? {
        guard T.self == Float.self, !layers[..<first].contains(where: { $0 is Dropout<T> }) else { return nil }
        let versions = layers[..<first].flatMap { $0.parameters.map(\.version) }
        if let prefix, prefix.first == first, prefix.versions == versions { return prefix.engine }
        let engine = InferenceEngine(network: self as! Network<Float>, layerCount: first)
        prefix = (first, versions, engine)  // kept even when it did not compile, so it is not retried every step
        return engine.isCompiled ? engine : nil
    }

    /// When set, forward and backward passes add each layer's seconds here.
    public var profile: LayerProfile?

    /// A timestamp for the profile, read only when profiling.
    private func profileClock() -> UInt64 { profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds }
    private func profileSeconds(since begin: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
    }

    /// Back-propagates `dLogits` (`[N, 1]`) after a `.training` forward pass, adding into the
    /// gradients of `trainableParameters`. With `inputGradient`, also returns d(loss)/d(input).
    @discardableResult
    public func backward(_ dLogits: Tensor<T>, inputGradient: Bool = false) -> Tensor<T>? {
        let first = inputGradient ? 0 : firstTrainableLayer
        var g = dLogits
        for i in stride(from: layers.count - 1, through: first, by: -1) where !fusedReLUs.contains(i) {
            let needInput = i > first || inputGradient
            let begin = profileClock()
            let dx = layers[i].backward(g, needInputGradient: needInput)
            profile?.add(layer: i, backward: profileSeconds(since: begin))
            guard let dx else { return nil }
            g = dx
        }
        return inputGradient ? g : nil
    }

    /// Probabilities σ(logit) for a batch, in inference mode.
    public func predict(_ x: Tensor<T>) -> [T] {
        forward(x, mode: .inference).data.map(BinaryCrossEntropy.sigmoid)
    }

    // MARK: Weights

    /// All saved tensors by name.
    public func weights() -> [String: Tensor<T>] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) })
    }

    /// The names and shapes `loadWeights` expects.
    public var expectedWeightShapes: [String: [Int]] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value.shape) })
    }

    /// Replaces every tensor. The names and shapes must match exactly.
    public func loadWeights(_ weights: [String: Tensor<T>]) throws(ModelSpecError) {
        let expected = expectedWeightShapes
        let missing = expected.keys.filter { weights[$0] == nil }.sorted()
        let extra = weights.keys.filter { expected[$0] == nil }.sorted()
        guard missing.isEmpty else { throw ModelSpecError("missing tensors: \(missing.joined(separator: ", "))") }
        guard extra.isEmpty else { throw ModelSpecError("unexpected tensors: \(extra.joined(separator: ", "))") }
        for p in parameters {
            let w = weights[p.name]!
            guard w.shape == p.value.shape else {
                throw ModelSpecError("tensor '\(p.name)' has shape \(w.shape), the architecture needs \(p.value.shape)")
            }
            p.value = w
        }
    }
}
