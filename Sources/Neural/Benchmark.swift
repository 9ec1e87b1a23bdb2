import CKernels
import Foundation

/// Throughput measurements of the engine, for `histoscreen bench`.
public enum Benchmark {
    /// Median and spread of repeated measurements.
    public struct Stat: Sendable, Codable, Equatable {
        public var median: Double
        public var min: Double
        public var max: Double
        public init(_ samples: [Double]) {
            let sorted = samples.sorted()
            median = sorted.isEmpty ? 0 : (sorted.count % 2 == 1 ? sorted[sorted.count / 2]
                : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2)
            min = sorted.first ?? 0
            max = sorted.last ?? 0
        }
    }

    /// Seconds taken by `body`, on the monotonic clock.
    public static func time(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The float32 FMA ceiling of a kernel set on this CPU in GFLOP/s, measured: every engine
    /// thread runs independent multiply-add chains of the set's vectors with no memory traffic.
    public static func fmaCeiling(_ kernels: KernelSet = .active) -> Double {
        let iterations = kernels.lanes >= 8 ? 4_000_000 : 8_000_000
        let flops = kernels.fmaPeakFlops(iterations: iterations)
        let threads = Threading.threadCount
        // Each worker times itself, so a worker that starts late does not count as slow.
        var rates = [Double](repeating: 0, count: threads)
        rates.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer.baseAddress!
            Threading.parallelFor(threads) { _, range in
                for t in range {
                    var value = 0.0
                    let seconds = time { value = kernels.fmaPeak(iterations: iterations) }
                    out[t] = value.isNaN ? 0 : flops / seconds / 1e9
                }
            }
        }
        return rates.reduce(0, +)
    }

    /// GFLOP/s of `cblas_sgemm` on n×n×n Float matrices through the linked OpenBLAS, per repeat.
    public static func sgemm(n: Int = 2048, repeats: Int = 3) -> [Double] {
        var g = SplitMix64(seed: 1)
        let a = (0..<(n * n)).map { _ in Float.random(in: -1..<1, using: &g) }
        let b = (0..<(n * n)).map { _ in Float.random(in: -1..<1, using: &g) }
        var c = [Float](repeating: 0, count: n * n)
        var rates: [Double] = []
        for _ in 0..<(repeats + 1) {
            let seconds = time {
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            Float.gemm(transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: ap.baseAddress!, lda: n,
                                       b: bp.baseAddress!, ldb: n, beta: 0, c: cp.baseAddress!, ldc: n)
                        }
                    }
                }
            }
            rates.append(2 * pow(Double(n), 3) / seconds / 1e9)
        }
        return Array(rates.dropFirst())  // the first run warms caches and threads
    }

    /// Floating-point operations of one training step per sample: the forward pass, plus
    /// for each layer the backward pass reaches, its weight gradient (unless frozen) and its
    /// input gradient (unless it is the first layer reached). A conv or dense layer's weight
    /// and input gradients each cost as much as its forward pass.
    public static func trainingFlopsPerSample<T>(_ net: Network<T>) -> Int {
        var total = net.flopsPerSample
        let first = net.firstTrainableLayer
        for i in first..<net.layers.count {
            let f = net.layers[i].flops(inputShape: net.shapes[i])
            if !net.layers[i].isFrozen && !net.layers[i].trainableParameters.isEmpty { total += f }
            if i > first { total += f }
        }
        return total
    }

    /// `trainingFlopsPerSample` less the multiply-adds that Winograd saves: in a frozen prefix
    /// run on the inference engine (see `InferenceEngine.executedFlopsPerSample`), and in the
    /// forward and input-gradient convolutions of trainable layers that qualify at `batch`.
    public static func trainingExecutedFlopsPerSample(_ net: Network<Float>, batch: Int) -> Int {
        var total = trainingFlopsPerSample(net)
        let first = net.firstTrainableLayer
        if first > 0, let prefix = net.prefixEngine(first) {  // the engine a training step runs the prefix on
            let direct = (0..<first).reduce(0) { $0 + net.layers[$1].flops(inputShape: net.shapes[$1]) }
            total -= direct - prefix.executedFlopsPerSample
        }
        for i in first..<net.layers.count {
            let saved = winogradSavings(net, layer: i, batch: batch)
            total -= saved.forward + (i > first ? saved.inputGradient : 0)
        }
        return total
    }

    /// FLOPs per sample that Winograd saves in a training step's forward and input-gradient
    /// convolutions of layer `i`, where it runs.
    static func winogradSavings(_ net: Network<Float>, layer i: Int, batch: Int) -> (forward: Int, inputGradient: Int) {
        guard let conv = net.layers[i] as? Conv2D<Float> else { return (0, 0) }
        let g = conv.geometry(inputShape: net.shapes[i])
        guard FastConv3x3.applies(g, scalar: Float.self) else { return (0, 0) }
        let saved = FastConv3x3.winogradSavedFlops(conv.flops(inputShape: net.shapes[i])), h = g.inputHeight, w = g.inputWidth
        let forward = FastConv3x3.winogradApplies(n: batch, h: h, w: w, from: g.inputChannels) ? saved : 0
        let input = FastConv3x3.appliesToInputGradient(g) && FastConv3x3.winogradApplies(n: batch, h: h, w: w, from: g.outputChannels)
            ? saved : 0
        return (forward, input)
    }

    /// Convolution layers' executed floating-point operations per sample in a training step
    /// (forward, input gradient where one is needed, weight gradient; less what Winograd
    /// saves), and their share of a profile's seconds; nil when the profile did not time them
    /// layer by layer (a frozen prefix).
    public static func trainingConvolutionFlops(_ net: Network<Float>, batch: Int, profile p: LayerProfile) -> (flops: Int, seconds: Double)? {
        let first = net.firstTrainableLayer
        guard first == 0 else { return nil }
        var flops = 0, seconds = 0.0
        for (i, layer) in net.layers.enumerated() where layer is Conv2D<Float> {
            let f = layer.flops(inputShape: net.shapes[i])
            let saved = winogradSavings(net, layer: i, batch: batch)
            flops += f * (i == 0 ? 2 : 3) - saved.forward - (i == 0 ? 0 : saved.inputGradient)
            seconds += p.forward[i] + p.backward[i]
        }
        return (flops, seconds)
    }

    /// Patches per second of inference as screening runs it (`InferenceEngine`, or the graph
    /// engine for a network with residual blocks) at `batch`, one sample per repeat (after a
    /// warm-up).
    public static func inference(_ net: Network<Float>, batch: Int, repeats: Int, seed: UInt64 = 1) -> [Double] {
        var g = SplitMix64(seed: seed)
        let x = Tensor<Float>(shape: [batch] + net.spec.inputShape,
                              data: (0..<(batch * net.spec.inputShape.reduce(1, *))).map { _ in Float.random(in: -1..<1, using: &g) })
        let classifier = ModelBundle.classifier(for: net)
        func pass() { x.data.withUnsafeBufferPointer { _ = try? classifier.probabilities($0.baseAddress!, count: batch) } }
        pass()
        return (0..<repeats).map { _ in Double(batch) / time(pass) }
    }

    /// Patches per second of training steps (forward, loss, backward, SGD update) at `batch`.
    public static func training(_ net: Network<Float>, batch: Int, repeats: Int, seed: UInt64 = 1) -> [Double] {
        var g = SplitMix64(seed: seed)
        let x = Tensor<Float>(shape: [batch] + net.spec.inputShape,
                              data: (0..<(batch * net.spec.inputShape.reduce(1, *))).map { _ in Float.random(in: -1..<1, using: &g) })
        let labels = (0..<batch).map { Float($0 % 2) }
        let optimizer = Optimizer<Float>(.sgd(momentum: 0.9, weightDecay: 0), schedule: .constant(1e-4))
        func step() {
            net.zeroGradients()
            let (_, d) = BinaryCrossEntropy.lossAndGradient(logits: net.forward(x, mode: .training), labels: labels)
            net.backward(d)
            optimizer.update(net.trainableParameters)
        }
        step()
        return (0..<repeats).map { _ in Double(batch) / time(step) }
    }
}
