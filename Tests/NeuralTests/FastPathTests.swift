import Neural
import Testing
import _TestSupport

/// The fast 3×3 convolution on every kernel set this CPU runs, and the im2col + BLAS path,
/// against plain loops in Double. Each element must lie within the rounding bound of its own
/// arithmetic (see `RoundingBound`), so the comparison holds on any CPU.
@Suite(.serialized) struct FastPathTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        var n: Int, h: Int, w: Int, cin: Int, cout: Int
        var testDescription: String { "\(n)×\(h)×\(w)×\(cin)→\(cout)" }
    }

    static let shapes = [
        Shape(n: 2, h: 7, w: 13, cin: 3, cout: 32),    // the first layer of a network; 13 = 12 + 1 columns
        Shape(n: 3, h: 5, w: 5, cin: 32, cout: 64),    // a row narrower than one 12-pixel tile
        Shape(n: 1, h: 12, w: 25, cin: 33, cout: 32),  // odd channel count: input gradient falls back
        Shape(n: 2, h: 3, w: 27, cin: 64, cout: 96),
        Shape(n: 19, h: 4, w: 6, cin: 40, cout: 64),   // small images: weight gradient by groups of 8 images, one partial
        Shape(n: 5, h: 6, w: 10, cin: 32, cout: 64),   // even sizes, 16k channels: Winograd forward and input gradient
    ]

    /// The im2col + BLAS path (nil) and every kernel set this CPU runs.
    static let paths: [KernelSet?] = [nil] + KernelSet.supported

    func conv<T: NeuralScalar>(_ s: Shape, _: T.Type) -> Conv2D<T> {
        let c = Conv2D<T>(name: "c", inputChannels: s.cin, outputChannels: s.cout, kernelSize: (3, 3), useBias: true)
        c.kernel.value = TestTensors.uniform(c.kernel.value.shape, seed: 1)
        c.bias?.value = TestTensors.uniform([s.cout], seed: 2)
        return c
    }

    /// A Double layer with the absolute values of `c`'s weights.
    func absoluteConv(_ s: Shape) -> Conv2D<Double> {
        let c = conv(s, Double.self)
        c.kernel.value = RoundingBound.absolute(c.kernel.value)
        c.bias?.value = RoundingBound.absolute(c.bias!.value)
        return c
    }

    /// Whether a training convolution of this shape may run as Winograd (it also needs an image
    /// per thread; where it does not run, the direct bound applies and this one is not used).
    func mayRunWinograd(_ s: Shape, inputChannels: Int) -> Bool {
        KernelSet.winograd && KernelSet.winogradFits(h: s.h, w: s.w, inputChannels: inputChannels)
    }

    /// Element-wise the larger of the direct bound (2K + 1 operations over Σ|x||w| + |b|) and,
    /// where Winograd may run, Winograd's.
    func convolutionBounds(_ s: Shape, direct: [Double], k: Int, x: Tensor<Double>, kernel: Tensor<Double>,
                           bias: Tensor<Double>?, inputChannels: Int) -> [Double] {
        var bounds = RoundingBound.bounds(direct, operations: 2 * k + 1)
        if mayRunWinograd(s, inputChannels: inputChannels) {
            let w = RoundingBound.bounds(RoundingBound.winogradMagnitude(x: x, kernel: kernel, bias: bias),
                                         operations: RoundingBound.winogradOperations(inputChannels: inputChannels))
            for i in bounds.indices { bounds[i] = max(bounds[i], w[i]) }
        }
        return bounds
    }

    @Test(arguments: shapes, paths)
    func forwardMatchesReference(s: Shape, kernels: KernelSet?) {
        let c = conv(s, Float.self)
        if let kernels { c.kernels = kernels } else { c.forcePortable = true }
        let x: Tensor<Float> = TestTensors.uniform([s.n, s.h, s.w, s.cin], seed: 3)
        let y = c.forward(x, mode: .inference, retain: false)
        let g = c.geometry(inputShape: [s.h, s.w, s.cin])
        let xd: Tensor<Double> = x.converted(), d = conv(s, Double.self)
        let exact = ReferenceConvolution.forward(xd, kernel: d.kernel.value, bias: d.bias!.value, geometry: g)
        let a = absoluteConv(s)
        let magnitude = ReferenceConvolution.forward(RoundingBound.absolute(x), kernel: a.kernel.value, bias: a.bias!.value,
                                                     geometry: g)
        let bounds = convolutionBounds(s, direct: magnitude.data, k: 9 * s.cin, x: RoundingBound.absolute(x),
                                       kernel: a.kernel.value, bias: a.bias!.value, inputChannels: s.cin)
        let worst = RoundingBound.worstRatio(y.data, exact: exact.data, bounds: bounds)
        #expect(worst <= 1, "\(kernels?.name ?? "im2col"): error reaches \(worst) × its rounding bound")
    }

    @Test(arguments: shapes, paths)
    func backwardMatchesReference(s: Shape, kernels: KernelSet?) {
        let x: Tensor<Float> = TestTensors.uniform([s.n, s.h, s.w, s.cin], seed: 4)
        let dy: Tensor<Float> = TestTensors.uniform([s.n, s.h, s.w, s.cout], seed: 5)
        let c = conv(s, Float.self)
        if let kernels { c.kernels = kernels } else { c.forcePortable = true }
        _ = c.forward(x, mode: .training, retain: true)
        let dx = c.backward(dy, needInputGradient: true)!

        // Exact gradients, and their magnitudes: the same Double backward pass on |x|, |W|, |dy|.
        let d = conv(s, Double.self)
        _ = d.forward(x.converted(), mode: .training, retain: true)
        let dxExact = d.backward(dy.converted(), needInputGradient: true)!
        let a = absoluteConv(s)
        _ = a.forward(RoundingBound.absolute(x), mode: .training, retain: true)
        let dxMagnitude = a.backward(RoundingBound.absolute(dy), needInputGradient: true)!

        let name = kernels?.name ?? "im2col"
        // dx: a 3×3 convolution of dy (9·Cout terms per element) with the flipped kernel.
        let flipped = flippedKernel(a.kernel.value)
        let dxBounds = convolutionBounds(s, direct: dxMagnitude.data, k: 9 * s.cout, x: RoundingBound.absolute(dy),
                                         kernel: flipped, bias: nil, inputChannels: s.cout)
        let dxWorst = RoundingBound.worstRatio(dx.data, exact: dxExact.data, bounds: dxBounds)
        #expect(dxWorst <= 1, "\(name) dx: error reaches \(dxWorst) × its rounding bound")
        // dW: a sum over N·H·W pixels, then over at most one partial sum per thread.
        let dwBounds = RoundingBound.bounds(a.kernel.gradient.data, operations: 2 * (s.n * s.h * s.w + Threading.threadCount))
        let dwWorst = RoundingBound.worstRatio(c.kernel.gradient.data, exact: d.kernel.gradient.data, bounds: dwBounds)
        #expect(dwWorst <= 1, "\(name) dW: error reaches \(dwWorst) × its rounding bound")
        // db: a sum over N·H·W pixels.
        let dbBounds = RoundingBound.bounds(a.bias!.gradient.data, operations: s.n * s.h * s.w)
        let dbWorst = RoundingBound.worstRatio(c.bias!.gradient.data, exact: d.bias!.gradient.data, bounds: dbBounds)
        #expect(dbWorst <= 1, "\(name) db: error reaches \(dbWorst) × its rounding bound")
    }

    /// W'[ky][kx][co][ci] = W[2 − ky][2 − kx][ci][co]: the input gradient's kernel, `[3, 3, Cout, Cin]`.
    func flippedKernel(_ w: Tensor<Double>) -> Tensor<Double> {
        let cin = w.shape[2], cout = w.shape[3]
        var out = Tensor<Double>(shape: [3, 3, cout, cin])
        for ky in 0..<3 {
            for kx in 0..<3 {
                for ci in 0..<cin {
                    for co in 0..<cout {
                        out.data[((ky * 3 + kx) * cout + co) * cin + ci] = w.data[(((2 - ky) * 3 + (2 - kx)) * cin + ci) * cout + co]
                    }
                }
            }
        }
        return out
    }

    /// max |a − b| / max(1, |b|), for the layers without accumulation.
    func worst(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    /// Float layers with fast paths (ReLU, 2×2 max pooling) against the same layers in Double.
    @Test func floatLayersMatchDouble() {
        let xd: Tensor<Double> = TestTensors.uniform([3, 6, 7, 5], seed: 6, gap: 0.01)
        let dyPool: Tensor<Double> = TestTensors.uniform([3, 3, 3, 5], seed: 7)
        let xf: Tensor<Float> = xd.converted()
        for (f, d, dy): (any Layer<Float>, any Layer<Double>, Tensor<Double>) in [
            (ReLU<Float>(name: "r"), ReLU<Double>(name: "r"), TestTensors.uniform(xd.shape, seed: 8)),
            (MaxPool2D<Float>(name: "p"), MaxPool2D<Double>(name: "p"), dyPool),
        ] {
            let yf = f.forward(xf, mode: .training, retain: true), yd = d.forward(xd, mode: .training, retain: true)
            #expect(yf.shape == yd.shape)
            #expect(worst(yf.data, yd.data.map { Float($0) }) < 1e-6, "\(f.name) forward")
            let gf = f.backward(dy.converted(), needInputGradient: true)!, gd = d.backward(dy, needInputGradient: true)!
            #expect(gf.shape == gd.shape)
            #expect(worst(gf.data, gd.data.map { Float($0) }) < 1e-6, "\(f.name) backward")
        }
    }

    @Test func kernelSetsReportWhatRuns() {
        #expect(KernelSet.supported.contains(KernelSet.active))
        #expect(KernelSet.supported.last?.name == "portable")
        #expect(KernelSet.activeDescription.hasPrefix(KernelSet.active.name))
        #expect(!KernelSet.cpuName.isEmpty)
        for set in KernelSet.all { #expect(KernelSet.named(set.name) == set) }
    }
}

/// The fused inference engine, on every kernel set, against a Double network.
///
/// Inference tests hold each element to the rounding bound propagated through the layers
/// (`RoundingBound.inference`). The training tests compare with Double to 1e-4 relative instead:
/// training normalises by batch statistics (a division by the batch's standard deviation), which
/// that bound does not cover. The reason for 1e-4: no sum here has more than 9·32 = 288 terms, so
/// each layer's rounding is within γ(577) ≈ 3.4e-5 of its magnitude; batch norm brings activations
/// to unit scale, so magnitudes and values are of one order, and the two or three layers before a
/// compared value compound to about 1e-4. These tests pass with every kernel set forced.
@Suite struct InferenceEngineTests {
    func randomise(_ net: Network<Float>, seed: UInt64) {
        for (k, p) in net.parameters.enumerated() {
            if p.name.hasSuffix("moving_variance") || p.name.hasSuffix("gamma") {
                let t: Tensor<Float> = TestTensors.uniform(p.value.shape, seed: seed + UInt64(k), scale: 0.5)
                p.value = Tensor(shape: t.shape, data: t.data.map { 1 + $0 })
            } else if !p.name.hasSuffix(".kernel") {
                p.value = TestTensors.uniform(p.value.shape, seed: seed + UInt64(k), scale: 0.2)
            }
        }
    }

    @Test(arguments: ["compact-like", "vgg-like"])
    func matchesForward(kind: String) throws {
        let spec = kind == "compact-like"
            ? ModelSpec(name: kind, inputShape: [24, 20, 3], layers: [
                .conv("c1", 32, bias: false), .batchNorm("bn1"), .relu("r1"), .maxPool("p1"),
                .conv("c2", 64, bias: false), .batchNorm("bn2"), .relu("r2"), .maxPool("p2"),
                .globalAveragePool("gap"), .dense("logit", 1)])
            : ModelSpec(name: kind, inputShape: [16, 16, 3], layers: [
                .conv("c1", 32), .relu("r1"), .maxPool("p1"), .conv("c2", 32), .relu("r2"), .maxPool("p2"),
                .flatten("flatten"), .dense("d1", 16), .relu("r3"), .dropout("drop", rate: 0.5), .dense("logit", 1)])
        let (net, d) = try floatAndDouble(spec, seed: 3, weightsSeed: 10)
        let xd: Tensor<Double> = TestTensors.uniform([7] + spec.inputShape, seed: 4)
        let x: Tensor<Float> = xd.converted()
        let (exact, bound) = RoundingBound.inference(d, input: xd, winograd: KernelSet.winograd)
        // The layer-by-layer Float pass and the engine on every set, each within the bound.
        let layerByLayer = net.forward(x, mode: .inference).data
        let worstLayers = RoundingBound.worstRatio(layerByLayer, exact: exact, bounds: bound)
        #expect(worstLayers <= 1, "\(kind) layer by layer: error reaches \(worstLayers) × its rounding bound")
        for kernels in KernelSet.supported {
            let engine = InferenceEngine(network: net, kernels: kernels)
            #expect(engine.isCompiled)
            let got = x.data.withUnsafeBufferPointer { engine.logits($0.baseAddress!, count: 7) }
            let worst = RoundingBound.worstRatio(got, exact: exact, bounds: bound)
            #expect(worst <= 1, "\(kind) on \(kernels.name): error reaches \(worst) × its rounding bound")
        }
    }

    /// Winograd F(2×2, 3×3) and the direct kernel, on every set, against a Double network (each
    /// element within the rounding bound propagated through the layers), on shapes that
    /// make its chunks of tiles cross image boundaries (42 tiles per image; chunks of 120 and
    /// 64 tiles), with chained convolutions (each written into the next one's padded input),
    /// BN folded in, and a single-tile image. The engine runs the six convolution layers as a
    /// prefix, so that the comparison sees every output element.
    @Test(arguments: [[5, 12, 14], [3, 2, 2], [2, 8, 6]])
    func winogradMatchesDirectAndDouble(dims: [Int]) throws {
        let (n, h, w) = (dims[0], dims[1], dims[2])
        let spec = ModelSpec(name: "winograd", inputShape: [h, w, 16], layers: [
            .conv("c1", 256), .relu("r1"), .conv("c2", 256, bias: false), .batchNorm("bn2"), .relu("r2"),
            .conv("c3", 32), .globalAveragePool("gap"), .dense("logit", 1)])
        let (f, d) = try floatAndDouble(spec, seed: 7, weightsSeed: 40)
        let xd: Tensor<Double> = TestTensors.uniform([n] + spec.inputShape, seed: 41)
        let x: Tensor<Float> = xd.converted()
        for winograd in [true, false] {
            let useWinograd = winograd && KernelSet.winograd
            let (exact, bound) = RoundingBound.inference(d, input: xd, layerCount: 6, winograd: useWinograd)
            for kernels in KernelSet.supported {
                let engine = InferenceEngine(network: f, layerCount: 6, winograd: useWinograd, kernels: kernels)
                #expect(engine.isCompiled)
                let got = x.data.withUnsafeBufferPointer { engine.outputs($0.baseAddress!, count: n) }
                #expect(got.count == exact.count)
                let worst = RoundingBound.worstRatio(got, exact: exact, bounds: bound)
                #expect(worst <= 1, "\(kernels.name) \(useWinograd ? "Winograd" : "direct") \(dims): error reaches \(worst) × its rounding bound")
            }
        }
    }

    /// Training with the early layers frozen runs them on the engine (BN folded, ReLU fused);
    /// the forward pass, and the gradients of the trainable layers after it, must match the
    /// layer-by-layer pass of a Double copy of the network, which never uses the engine.
    @Test func frozenPrefixMatchesLayerByLayer() throws {
        let spec = ModelSpec(name: "prefix", inputShape: [16, 12, 3], layers: [
            .conv("c1", 32, bias: false), .batchNorm("bn1"), .relu("r1"), .conv("c2", 32), .relu("r2"), .maxPool("p1"),
            .conv("c3", 32, bias: false), .batchNorm("bn3"), .relu("r3"), .maxPool("p2"),
            .globalAveragePool("gap"), .dense("logit", 1)])
        let (f, d) = try floatAndDouble(spec, seed: 3, weightsSeed: 20)
        try f.setTrainable(from: "c3")
        try d.setTrainable(from: "c3")
        let xd: Tensor<Double> = TestTensors.uniform([5] + spec.inputShape, seed: 21)
        for step in 0..<2 {  // the second step reuses the compiled prefix
            let worst = trainingStep(f, d, x: xd, gradientSeed: 22)
            #expect(worst < 1e-4, "step \(step): forward differs by \(worst)")
            let gworst = gradientDifference(f, d, "c3.kernel")
            #expect(gworst < 1e-4, "step \(step): c3 kernel gradient differs by \(gworst) of its largest element")
        }
        // Changing a frozen weight invalidates the compiled prefix.
        let c1 = f.parameters.first { $0.name == "c1.kernel" }!
        c1.value = Tensor(shape: c1.value.shape, data: c1.value.data.map { $0 * 0.5 })
        let dc1 = d.parameters.first { $0.name == "c1.kernel" }!
        dc1.value = Tensor(shape: dc1.value.shape, data: dc1.value.data.map { $0 * 0.5 })
        let worst = worstRelative(f.forward(xd.converted(), mode: .training).data, d.forward(xd, mode: .training).data)
        #expect(worst < 1e-4, "after changing a frozen weight: forward differs by \(worst)")
    }

    /// In Float training, batch norm and the ReLU after it run fused (one pass forward, one
    /// backward); the Double network runs them as separate layers. Outputs, every parameter's
    /// gradient and the running statistics must agree.
    @Test func batchNormReLUFusionMatchesSeparateLayers() throws {
        let spec = ModelSpec(name: "fused", inputShape: [12, 10, 3], layers: [
            .conv("c1", 32, bias: false), .batchNorm("bn1"), .relu("r1"), .maxPool("p1"),
            .conv("c2", 32, bias: false), .batchNorm("bn2"), .relu("r2"),
            .globalAveragePool("gap"), .dense("logit", 1)])
        let (f, d) = try floatAndDouble(spec, seed: 5, weightsSeed: 30)
        let xd: Tensor<Double> = TestTensors.uniform([6] + spec.inputShape, seed: 31)
        let worst = trainingStep(f, d, x: xd, gradientSeed: 32)
        #expect(worst < 1e-4, "forward differs by \(worst)")
        for (pf, pd) in zip(f.parameters, d.parameters) {
            let g = gradientDifference(f, d, pf.name)
            #expect(g < 1e-4, "\(pf.name): gradient differs by \(g) of its largest element")
            let v = worstRelative(pf.value.data, pd.value.data)
            #expect(v < 1e-5, "\(pf.name): value (running statistics included) differs by \(v)")
        }
    }

    /// A Float network with randomised weights, and a Double copy of it.
    func floatAndDouble(_ spec: ModelSpec, seed: UInt64, weightsSeed: UInt64) throws -> (Network<Float>, Network<Double>) {
        let f = try Network<Float>(spec: spec, seed: seed)
        randomise(f, seed: weightsSeed)
        let d = try Network<Double>(spec: spec, seed: seed)
        try d.loadWeights(f.weights().mapValues { $0.converted() })
        return (f, d)
    }

    /// The largest difference relative to max(1, |reference|).
    func worstRelative(_ a: [Float], _ reference: [Double]) -> Double {
        zip(a, reference).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
    }

    /// A training forward and backward pass of both networks with the same input and output
    /// gradient; returns the forward pass's worst relative difference.
    func trainingStep(_ f: Network<Float>, _ d: Network<Double>, x: Tensor<Double>, gradientSeed: UInt64) -> Double {
        let yf = f.forward(x.converted(), mode: .training), yd = d.forward(x, mode: .training)
        f.zeroGradients()
        d.zeroGradients()
        let dl: Tensor<Double> = TestTensors.uniform(yd.shape, seed: gradientSeed)
        f.backward(dl.converted())
        d.backward(dl)
        return worstRelative(yf.data, yd.data)
    }

    /// The worst difference of a parameter's gradients, relative to the largest element of the
    /// Double one.
    func gradientDifference(_ f: Network<Float>, _ d: Network<Double>, _ name: String) -> Double {
        let gf = f.parameters.first { $0.name == name }!.gradient.data
        let gd = d.parameters.first { $0.name == name }!.gradient.data
        let scale = max(1e-12, gd.map(abs).max() ?? 0)
        return zip(gf, gd).map { abs(Double($0) - $1) / scale }.max() ?? 0
    }
}
