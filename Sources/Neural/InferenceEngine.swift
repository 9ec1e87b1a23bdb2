import CKernels
import Foundation

/// Fast batched inference for a trained `Network<Float>`.
///
/// It compiles the network once: batch norm after a convolution is folded into the
/// convolution's weights and bias, and a following ReLU is fused into the kernel. Then it
/// runs each worker thread over its own images, taking the next as it finishes one, through
/// the whole network: activations stay in cache, and threads never wait on each other
/// between layers.
///
/// It runs on one kernel set (`KernelSet.active` unless given), on every CPU. Where a layer
/// has no fast kernel (a convolution that is not 3×3 'same' with a multiple of 32 output
/// channels, a pool that is not 2×2), the engine runs the network's own layer-by-layer forward
/// pass instead (im2col + BLAS), which gives the same results.
public final class InferenceEngine: @unchecked Sendable {
    enum Step {
        /// 3×3 stride-1 'same' convolution, weights packed for the kernel, BN folded in.
        case conv3x3(packed: [Float], bias: [Float], inputChannels: Int, outputChannels: Int, relu: Bool)
        /// The same convolution as Winograd F(2×2, 3×3), weights transformed by hs_winograd_pack.
        case winograd(transformed: [Float], bias: [Float], inputChannels: Int, outputChannels: Int, relu: Bool)
        case maxPool2x2
        case globalAveragePool
        case flatten
        case dense(kernel: [Float], bias: [Float]?, inputs: Int, outputs: Int, relu: Bool)
        case affine(scale: [Float], shift: [Float], relu: Bool)
        case relu

        /// (input, output) channels of a 3×3 convolution step.
        var convolutionChannels: (Int, Int)? {
            switch self {
            case let .conv3x3(_, _, cin, cout, _), let .winograd(_, _, cin, cout, _): (cin, cout)
            default: nil
            }
        }
    }

    public let network: Network<Float>
    /// The kernel set the compiled steps run on.
    public let kernels: KernelSet
    let steps: [Step]
    /// The network layer each step starts at (for profiles).
    let stepLayers: [Int]
    /// Per-sample shapes before each step, and after the last.
    let shapes: [[Int]]
    /// True when every step has a fast kernel here; otherwise `logits` uses `network.forward`.
    public let isCompiled: Bool
    /// Images a worker takes through the network at once.
    public var imagesPerChunk = 1
    private let fallbackLock = NSLock()
    private let poolLock = NSLock()
    private let profileLock = NSLock()
    private var spare: ScratchPool?

    /// Floating-point operations per image that the compiled steps actually execute: the
    /// network's count for these layers, less the multiply-adds Winograd saves (it does 16 per
    /// tile and channel pair where the direct method does 36). Transforms are not counted.
    public let executedFlopsPerSample: Int

    /// The number of the network's layers this engine runs (all of them unless it was built
    /// for a prefix).
    public let layerCount: Int

    /// Compiles the network's first `layerCount` layers (all by default); a prefix engine's
    /// `outputs` are that layer's inputs, `shapes[layerCount]` per image.
    ///
    /// With `winograd`, 3×3 convolutions whose input has an even size and a multiple of 16
    /// channels run as Winograd F(2×2, 3×3) (see winograd.c); the rest run direct.
    public init(network: Network<Float>, layerCount: Int? = nil, winograd: Bool = KernelSet.winograd,
                kernels: KernelSet = .active) {
        self.network = network
        self.kernels = kernels
        let end = min(layerCount ?? network.layers.count, network.layers.count)
        self.layerCount = end
        var steps: [Step] = []
        var shapes: [[Int]] = [network.spec.inputShape]
        var compiled = true
        var saved = 0
        var stepLayers: [Int] = []
        var i = 0
        let layers = network.layers
        while i < end && compiled {
            let shape = network.shapes[i]
            let layer = layers[i]
            var consumed = 1
            func followedByReLU(_ j: Int) -> Bool { j < end && layers[j] is ReLU<Float> }
            switch layer {
            case let conv as Conv2D<Float>:
                let g = conv.geometry(inputShape: shape)
                guard g.kernelHeight == 3, g.kernelWidth == 3, g.stride == 1, g.padding == Padding2D(top: 1, bottom: 1, left: 1, right: 1),
                      g.outputChannels % Int(HS_CONV_BLOCK) == 0 else { compiled = false; break }
                var kernel = conv.kernel.value.data
                var bias = conv.bias?.value.data ?? [Float](repeating: 0, count: g.outputChannels)
                if i + 1 < end, let bn = layers[i + 1] as? BatchNorm<Float> {
                    let (scale, shift) = bn.inferenceAffine()
                    for k in 0..<kernel.count { kernel[k] *= scale[k % g.outputChannels] }
                    for c in 0..<g.outputChannels { bias[c] = bias[c] * scale[c] + shift[c] }
                    consumed += 1
                }
                let relu = followedByReLU(i + consumed)
                if relu { consumed += 1 }
                let cin = Int32(g.inputChannels), cout = Int32(g.outputChannels)
                if winograd && KernelSet.winogradFits(h: shape[0], w: shape[1], inputChannels: g.inputChannels) {
                    var transformed = [Float](repeating: 0, count: 16 * g.inputChannels * g.outputChannels)
                    transformed.withUnsafeMutableBufferPointer { hs_winograd_pack(kernel, cin, cout, $0.baseAddress!) }
                    steps.append(.winograd(transformed: transformed, bias: bias, inputChannels: g.inputChannels,
                                           outputChannels: g.outputChannels, relu: relu))
                    saved += FastConv3x3.winogradSavedFlops(conv.flops(inputShape: shape))
                } else {
                    var packed = [Float](repeating: 0, count: kernel.count)
                    packed.withUnsafeMutableBufferPointer { hs_conv3x3_pack(kernel, cin, cout, 0, $0.baseAddress!) }
                    steps.append(.conv3x3(packed: packed, bias: bias, inputChannels: g.inputChannels,
                                          outputChannels: g.outputChannels, relu: relu))
                }
            case let bn as BatchNorm<Float>:
                let (scale, shift) = bn.inferenceAffine()
                let relu = followedByReLU(i + 1)
                if relu { consumed += 1 }
                steps.append(.affine(scale: scale, shift: shift, relu: relu))
            case is ReLU<Float>:
                steps.append(.relu)
            case let pool as MaxPool2D<Float>:
                guard pool.size == 2, pool.stride == 2 else { compiled = false; break }
                steps.append(.maxPool2x2)
            case is GlobalAveragePool<Float>:
                steps.append(.globalAveragePool)
            case is Flatten<Float>:
                steps.append(.flatten)
            case let dense as Dense<Float>:
                let relu = followedByReLU(i + 1)
                if relu { consumed += 1 }
                steps.append(.dense(kernel: dense.kernel.value.data, bias: dense.bias?.value.data, inputs: dense.inputFeatures,
                                    outputs: dense.outputFeatures, relu: relu))
            case is Dropout<Float>:
                break  // identity at inference
            default:
                compiled = false
            }
            if steps.count > stepLayers.count {  // Dropout adds no step, and so no shape
                stepLayers.append(i)
                shapes.append(network.shapes[min(i + consumed, end)])
            }
            i += consumed
        }
        self.steps = steps
        self.shapes = shapes
        self.stepLayers = stepLayers
        let direct = (0..<end).reduce(0) { $0 + layers[$1].flops(inputShape: network.shapes[$1]) }
        self.executedFlopsPerSample = compiled ? direct - saved : direct
        self.isCompiled = compiled
    }

    /// Logits for `count` images, `input` NHWC `[count, H, W, C]`, already normalised.
    public func logits(_ input: UnsafePointer<Float>, count: Int) -> [Float] {
        precondition(layerCount == network.layers.count, "logits: this engine runs only the first \(layerCount) layers")
        return outputs(input, count: count)
    }

    /// The output of the compiled layers for `count` images: `count × outputSize` floats.
    public func outputs(_ input: UnsafePointer<Float>, count: Int) -> [Float] {
        guard count > 0 else { return [] }
        guard isCompiled else {
            precondition(layerCount == network.layers.count, "a prefix engine runs only when every prefix layer compiles")
            let x = Tensor<Float>(shape: [count] + network.spec.inputShape,
                                  data: Array(UnsafeBufferPointer(start: input, count: count * network.spec.inputShape.reduce(1, *))))
            fallbackLock.lock()
            defer { fallbackLock.unlock() }
            return network.forward(x, mode: .inference).data
        }
        let outputSize = self.outputSize
        var out = [Float](repeating: 0, count: count * outputSize)
        let chunk = max(1, imagesPerChunk)
        let inputSize = network.spec.inputShape.reduce(1, *)
        out.withUnsafeMutableBufferPointer { outBuffer in
            nonisolated(unsafe) let outPtr = outBuffer.baseAddress!
            let chunks = (count + chunk - 1) / chunk
            let workers = min(Threading.threadCount, chunks)
            let capacity = chunk * maxActivation(), paddedCapacity = chunk * maxPadded()
            // Scratch is reused across calls (a call takes the pool, and puts it back), so
            // that each batch does not allocate and clear megabytes of buffers again.
            poolLock.lock()
            var pool = spare
            spare = nil
            poolLock.unlock()
            if pool == nil || pool!.count < workers || pool!.capacity != capacity || pool!.paddedCapacity != paddedCapacity {
                pool = ScratchPool(count: workers, capacity: capacity, paddedCapacity: paddedCapacity,
                                   winogradCapacity: winogradScratch())
            }
            let scratches = pool!
            Threading.dynamicFor(chunks) { worker, c in
                let first = c * chunk, n = min(chunk, count - first)
                scratches.with(worker) { run(input + first * inputSize, n: n, scratch: &$0, out: outPtr + first * outputSize) }
            }
            poolLock.lock()
            spare = scratches
            poolLock.unlock()
        }
        return out
    }

    /// Floats per image out of the compiled layers.
    public var outputSize: Int { network.shapes[layerCount].reduce(1, *) }

    /// σ(logit) for `count` images.
    public func probabilities(_ input: UnsafePointer<Float>, count: Int) -> [Float] {
        logits(input, count: count).map(BinaryCrossEntropy.sigmoid)
    }

    /// One scratch per worker, made on first use; each worker touches only its own.
    final class ScratchPool: @unchecked Sendable {
        private let slots: UnsafeMutablePointer<Scratch?>
        let count: Int, capacity: Int, paddedCapacity: Int, winogradCapacity: Int
        init(count: Int, capacity: Int, paddedCapacity: Int, winogradCapacity: Int) {
            self.winogradCapacity = winogradCapacity
            self.count = count
            self.capacity = capacity
            self.paddedCapacity = paddedCapacity
            slots = .allocate(capacity: count)
            slots.initialize(repeating: nil, count: count)
        }
        private func make() -> Scratch { Scratch(capacity: capacity, paddedCapacity: paddedCapacity, winogradCapacity: winogradCapacity) }
        deinit {
            slots.deinitialize(count: count)
            slots.deallocate()
        }
        func with(_ worker: Int, _ body: (inout Scratch) -> Void) {
            if slots[worker] == nil { slots[worker] = make() }
            body(&slots[worker]!)
        }
    }

    struct Scratch {
        var a: [Float], b: [Float], padded: [Float], padded2: [Float], winograd: [Float]
        init(capacity: Int, paddedCapacity: Int, winogradCapacity: Int) {
            winograd = [Float](repeating: 0, count: winogradCapacity)
            a = [Float](repeating: 0, count: capacity)
            b = [Float](repeating: 0, count: capacity)
            padded = [Float](repeating: 0, count: paddedCapacity)
            padded2 = [Float](repeating: 0, count: paddedCapacity)
        }
    }

    private func winogradScratch() -> Int {
        steps.map { step -> Int in
            guard case let .winograd(_, _, cin, cout, _) = step else { return 0 }
            return hs_winograd_scratch_floats(Int32(cin), Int32(cout))
        }.max() ?? 0
    }
    private func maxActivation() -> Int { shapes.map { $0.reduce(1, *) }.max() ?? 1 }
    private func maxPadded() -> Int {
        shapes.filter { $0.count == 3 }.map { ($0[0] + 2) * ($0[1] + 2) * $0[2] }.max() ?? 1
    }

    /// Runs `n` images through every step, ping-ponging between the scratch buffers. A 3×3
    /// convolution followed by another writes straight into the next one's zero-bordered
    /// input, so only a convolution's first input in a run is copied into padded form.
    private func run(_ input: UnsafePointer<Float>, n: Int, scratch: inout Scratch, out: UnsafeMutablePointer<Float>) {
        // With the network's profile set (the benchmark's --profile), each step's time is
        // added to the first layer it covers; a prefix engine's time is counted by the network.
        let profile = layerCount == network.layers.count ? network.profile : nil
        var times = [Double](repeating: 0, count: profile == nil ? 0 : steps.count)
        defer {
            if let profile {
                profileLock.lock()
                for (k, t) in times.enumerated() { profile.add(layer: stepLayers[k], forward: t) }
                profileLock.unlock()
            }
        }
        scratch.a.withUnsafeMutableBufferPointer { aBuffer in
            scratch.b.withUnsafeMutableBufferPointer { bBuffer in
                scratch.padded.withUnsafeMutableBufferPointer { padBuffer in
                  scratch.padded2.withUnsafeMutableBufferPointer { pad2Buffer in
                   scratch.winograd.withUnsafeMutableBufferPointer { winogradBuffer in
                    let winogradSpace = winogradBuffer.baseAddress
                    var src = UnsafeMutablePointer(mutating: input)
                    var dst = aBuffer.baseAddress!
                    var spare = bBuffer.baseAddress!
                    let pads = (padBuffer.baseAddress!, pad2Buffer.baseAddress!)
                    var srcIsPadded = false
                    for (k, step) in steps.enumerated() {
                        let begin = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                        defer { if profile != nil { times[k] += Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9 } }
                        let shape = shapes[k]
                        var inPlace = false
                        switch step {
                        case .conv3x3, .winograd:
                            let h = shape[0], w = shape[1]
                            let (cin, cout) = step.convolutionChannels!
                            let padded: UnsafeMutablePointer<Float>
                            if srcIsPadded {
                                padded = src
                            } else {
                                hs_pad1(src, Int32(n), Int32(h), Int32(w), Int32(cin), pads.0)
                                padded = pads.0
                            }
                            // Into the next convolution's zero-bordered input when one follows.
                            let chained = k + 1 < steps.count && steps[k + 1].convolutionChannels != nil
                            let target = chained ? (padded == pads.0 ? pads.1 : pads.0) : dst
                            if chained { hs_zero_border(target, Int32(n), Int32(h), Int32(w), Int32(cout)) }
                            switch step {
                            case let .conv3x3(packed, bias, _, _, relu):
                                kernels.conv3x3Forward(padded, h: h, w: w, cin: cin, packed: packed, bias: bias, cout: cout,
                                                       relu: relu, out: target, rows: 0..<(n * h), outPadded: chained)
                            case let .winograd(transformed, bias, _, _, relu):
                                kernels.winogradForward(padded, n: n, h: h, w: w, cin: cin, transformed: transformed, bias: bias,
                                                        cout: cout, relu: relu, out: target, outPadded: chained,
                                                        scratch: winogradSpace!)
                            default:
                                preconditionFailure()
                            }
                            if chained {
                                src = target
                                srcIsPadded = true
                                continue
                            }
                        case .maxPool2x2:
                            kernels.maxPool2x2(src, n: n, h: shape[0], w: shape[1], c: shape[2], y: dst, which: nil)
                        case .globalAveragePool:
                            kernels.globalAverage(src, n: n, hw: shape[0] * shape[1], c: shape[2], y: dst)
                        case .flatten:
                            inPlace = true
                        case let .dense(kernel, bias, inputs, outputs, relu):
                            if let bias {
                                kernels.dense(src, n: n, inputs: inputs, kernel: kernel, bias: bias, outputs: outputs, relu: relu, y: dst)
                            } else {
                                kernels.dense(src, n: n, inputs: inputs, kernel: kernel, bias: nil, outputs: outputs, relu: relu, y: dst)
                            }
                        case let .affine(scale, shift, relu):
                            kernels.affineReLU(src, rows: n * shape.reduce(1, *) / shape.last!, c: shape.last!, scale: scale, shift: shift,
                                               relu: relu, y: dst)
                        case .relu:
                            kernels.relu(src, count: n * shape.reduce(1, *), y: dst)
                        }
                        if !inPlace {
                            src = dst
                            swap(&dst, &spare)
                        }
                        srcIsPadded = false
                    }
                    out.update(from: src, count: n * outputSize)
                   }
                  }
                }
            }
        }
    }
}
