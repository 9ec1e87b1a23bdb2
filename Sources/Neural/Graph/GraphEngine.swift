import Foundation

/// Why a graph cannot run: names the node and operator.
public struct GraphError: Error, CustomStringConvertible, Equatable {
    public var problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { problem }
}

/// Runs a `GraphModel` on batches of float images.
///
/// At load it checks that every node's inputs exist before it, folds each batch
/// normalisation into the convolution before it (when nothing else reads the convolution's
/// output), fuses a following ReLU into a convolution or an addition, then runs the graph on
/// two zero images so that shape errors appear at load, naming the node, rather than on the
/// first slide. That run also gives each convolution's input size, from which it plans the
/// convolution on the kernel layer (`KernelSet`, see GraphKernels.swift).
///
/// A batch is split into chunks of `imagesPerChunk` images, and each worker thread takes the
/// next chunk through the whole graph, as the built-in engine does. Inside a chunk,
/// activations are channels-last (NHWC) from the first convolution on, as the kernels take
/// them; an operator without a channels-last kernel gets its input in ONNX's NCHW order, and
/// every operator has an NCHW version of plain loops (im2col + BLAS for convolutions), which
/// `fastKernels: false` runs alone, as the reference the tests compare the kernels with.
public final class GraphEngine: @unchecked Sendable {  // immutable after init
    public let graph: GraphModel
    let nodes: [GraphNode]
    let weights: [String: Tensor<Float>]
    /// Convolutions and additions with a ReLU fused in, by node name.
    let fusedRelu: Set<String>
    /// The output's shape for one image (batch 1), found by the run at load.
    public private(set) var outputShape: [Int] = []
    /// Whether convolutions, pools and additions run on the kernel layer, channels-last.
    public let fastKernels: Bool
    /// The kernel set they run on.
    public let kernels: KernelSet
    /// Each convolution's plan on the kernel layer, by node name (made by the run at load).
    var plans: [String: ConvPlan] = [:]
    /// True during the run at load, when each convolution, meeting its input, is planned.
    private var planning = false
    /// Whether the output's first dimension is the batch, so that chunks of a batch can run
    /// apart and be joined (false for a graph that mixes images, which then runs whole).
    private(set) var batchSplits = false
    /// Images a worker takes through the graph at once (fewer when the batch is too small to
    /// give every thread one chunk). Set at load so that the smallest convolution output of a
    /// chunk spans at least 64 pixels, the rows that fill several register tiles (ResNet-18 at
    /// 96 px ends at 3 × 3: 8 images per chunk ran 15 % faster than 2), but no convolution's
    /// input or output in a chunk exceeds 2²¹ floats (8 MiB), so that a layer's activations stay
    /// in cache (MobileNetV2 at 224 px: 1 image per chunk ran 15 % faster than 8).
    public var imagesPerChunk = 1

    public init(graph: GraphModel, weights: [String: Tensor<Float>], fastKernels: Bool = true,
                kernels: KernelSet = .active) throws(GraphError) {
        self.fastKernels = fastKernels
        self.kernels = kernels
        // The engine runs images in parallel itself, each convolution's SGEMM on one thread;
        // OpenBLAS's own threads on top of that oversubscribe the cores (ResNet-18 ran at half
        // speed). Set once, here, at load: changing it while another thread is inside OpenBLAS
        // is not safe.
        if BLAS.threadCount != 1 { BLAS.threadCount = 1 }
        self.graph = graph
        var weights = weights
        for (name, shape) in graph.initializers {
            guard let w = weights[name] else { throw GraphError("weights.safetensors has no tensor '\(name)'") }
            guard w.shape == shape else { throw GraphError("tensor '\(name)' is \(w.shape) in the weights but \(shape) in the graph") }
        }
        // Every input must be defined before it is read.
        var defined = Set([graph.inputName] + Array(graph.initializers.keys) + Array(graph.integerConstants.keys))
        for node in graph.nodes {
            for input in node.inputs where !input.isEmpty && !defined.contains(input) {
                throw GraphError("node '\(node.name)' (\(node.op)) reads '\(input)', which no earlier node, input or weight defines")
            }
            defined.formUnion(node.outputs)
        }
        guard defined.contains(graph.outputName) else { throw GraphError("no node produces the output '\(graph.outputName)'") }

        // An Identity of a weight (exporters write them for tensors they share) is that weight.
        var nodes = graph.nodes.filter { node in
            guard ["Identity", "Dropout"].contains(node.op), node.outputs.count == 1, let input = node.inputs.first,
                  let w = weights[input], node.outputs[0] != graph.outputName else { return true }
            weights[node.outputs[0]] = w
            return false
        }
        // Fold BatchNormalization into the convolution before it, then fuse ReLU.
        func readers(_ value: String) -> Int { nodes.reduce(0) { $0 + $1.inputs.filter { $0 == value }.count } + (value == graph.outputName ? 1 : 0) }
        var k = 0
        while k < nodes.count {
            let bn = nodes[k]
            if bn.op == "BatchNormalization", bn.inputs.count == 5, bn.outputs.count == 1,
               let convIndex = nodes[..<k].lastIndex(where: { $0.outputs.first == bn.inputs[0] }), nodes[convIndex].op == "Conv",
               readers(bn.inputs[0]) == 1,
               let scale = weights[bn.inputs[1]], let shift = weights[bn.inputs[2]], let mean = weights[bn.inputs[3]],
               let variance = weights[bn.inputs[4]], let kernel = weights[nodes[convIndex].inputs[1]] {
                var conv = nodes[convIndex]
                let m = kernel.shape[0], per = kernel.count / max(1, m)
                guard [scale, shift, mean, variance].allSatisfy({ $0.count == m }) else {
                    throw GraphError("node '\(bn.name)' (BatchNormalization) has \(scale.count) channels after a convolution of \(m)")
                }
                let epsilon = bn.float("epsilon") ?? 1e-5
                var folded = kernel, bias = [Float](repeating: 0, count: m)
                if conv.inputs.count > 2, !conv.inputs[2].isEmpty, let b = weights[conv.inputs[2]] { bias = b.data }
                for c in 0..<m {
                    let s = scale.data[c] / (variance.data[c] + epsilon).squareRoot()
                    for i in 0..<per { folded.data[c * per + i] *= s }
                    bias[c] = (bias[c] - mean.data[c]) * s + shift.data[c]
                }
                let kernelName = "\(conv.name)::folded_kernel", biasName = "\(conv.name)::folded_bias"
                weights[kernelName] = folded
                weights[biasName] = Tensor(shape: [m], data: bias)
                conv.inputs = [conv.inputs[0], kernelName, biasName]
                conv.outputs = bn.outputs
                nodes[convIndex] = conv
                nodes.remove(at: k)
                continue
            }
            k += 1
        }
        var fused = Set<String>()
        k = 0
        while k < nodes.count {
            let relu = nodes[k]
            if relu.op == "Relu", let convIndex = nodes[..<k].lastIndex(where: { $0.outputs.first == relu.inputs.first }),
               ["Conv", "Add"].contains(nodes[convIndex].op), readers(relu.inputs[0]) == 1 {
                nodes[convIndex].outputs = relu.outputs
                fused.insert(nodes[convIndex].name)
                nodes.remove(at: k)
                continue
            }
            k += 1
        }
        // Only a node's first output is computed (MaxPool's indices, Dropout's mask are not).
        let read = Set(nodes.flatMap(\.inputs) + [graph.outputName])
        if let node = nodes.first(where: { $0.outputs.dropFirst().contains(where: read.contains) }) {
            throw GraphError("node '\(node.name)' (\(node.op)): only the first output is supported, but '\(node.outputs.dropFirst().first(where: read.contains)!)' is read")
        }
        self.nodes = nodes
        self.weights = weights
        self.fusedRelu = fused
        // Two images, in one piece: the shapes every node sees (each convolution is planned as
        // its input arrives), and whether the output keeps the batch apart.
        planning = true
        let probe = try canonical(runGraph(Value(shape: [2] + graph.inputShape,
                                                 data: [Float](repeating: 0, count: 2 * graph.inputShape.reduce(1, *)))))
        batchSplits = probe.shape.first == 2
        outputShape = batchSplits ? [1] + probe.shape.dropFirst()
            : try canonical(runGraph(Value(shape: [1] + graph.inputShape, data: [Float](repeating: 0, count: graph.inputShape.reduce(1, *))))).shape
        planning = false
        let smallest = plans.values.map { Int($0.window.oh * $0.window.ow) }.min() ?? 64
        let largest = plans.values.map { max($0.input.reduce(1, *), Int($0.window.oh * $0.window.ow) * $0.outputChannels) }.max() ?? 1
        imagesPerChunk = max(1, min(8, (64 + smallest - 1) / max(1, smallest), (1 << 21) / max(1, largest)))
    }

    /// Class scores per image, when the output is one vector per image (N × K, or N × K × 1 × 1).
    public func scoreCount() throws(GraphError) -> Int {
        guard outputShape.count >= 2, outputShape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
            throw GraphError("the output '\(graph.outputName)' is \(outputShape) for one image; HistoScreen reads one vector of class scores per image")
        }
        return outputShape[1]
    }

    /// A tensor as the engine holds it: `shape` is always ONNX's (N × C × H × W for images);
    /// `channelsLast` says that a 4-D tensor's data is in N × H × W × C order.
    struct Value {
        var shape: [Int]
        var data: [Float]
        var channelsLast = false
    }

    /// Runs `batch` images (NCHW, contiguous) and returns the output tensor (NCHW).
    public func run(_ input: [Float], batch: Int) throws(GraphError) -> (shape: [Int], data: [Float]) {
        let shape = [batch] + graph.inputShape, size = graph.inputShape.reduce(1, *)
        guard input.count == shape.reduce(1, *) else { throw GraphError("input of \(input.count) values for \(shape)") }
        return try runChunks(batch: batch) { first, count in
            Value(shape: [count] + graph.inputShape, data: Array(input[(first * size)..<((first + count) * size)]))
        }
    }

    /// Runs `batch` images given channels-last (N × H × W × C, as patches are read), for a graph
    /// whose input is C × H × W; returns the output tensor (NCHW).
    public func run(channelsLast input: UnsafePointer<Float>, batch: Int) throws(GraphError) -> (shape: [Int], data: [Float]) {
        guard graph.inputShape.count == 3 else { throw GraphError("the input '\(graph.inputName)' is not C × H × W") }
        let size = graph.inputShape.reduce(1, *)
        return try runChunks(batch: batch) { first, count in
            Value(shape: [count] + graph.inputShape, data: Array(UnsafeBufferPointer(start: input + first * size, count: count * size)),
                  channelsLast: true)
        }
    }

    /// Splits the batch into chunks that workers take through the graph, and joins the outputs.
    private func runChunks(batch: Int, _ chunkInput: (_ first: Int, _ count: Int) -> Value) throws(GraphError) -> (shape: [Int], data: [Float]) {
        guard batch > 0 else { throw GraphError("a batch of \(batch) images") }
        let threads = Threading.threadCount
        let chunk = batchSplits ? max(1, min(imagesPerChunk, (batch + threads - 1) / threads)) : batch
        let chunks = (batch + chunk - 1) / chunk
        if chunks == 1 {
            let out = try canonical(runGraph(chunkInput(0, batch)))
            return (out.shape, out.data)
        }
        let results = ChunkResults(count: chunks)
        Threading.dynamicFor(chunks) { _, c in
            let first = c * chunk, count = min(chunk, batch - first)
            do throws(GraphError) {
                results.set(c, try canonical(runGraph(chunkInput(first, count))))
            } catch {
                results.fail(error)
            }
        }
        if let error = results.error { throw error }
        let parts = results.values.map { $0! }
        let shape = [batch] + parts[0].shape.dropFirst()
        guard parts.allSatisfy({ Array($0.shape.dropFirst()) == Array(shape.dropFirst()) }) else {
            throw GraphError("the output's shape differs between chunks of the batch: \(parts.map(\.shape))")
        }
        var data = [Float]()
        data.reserveCapacity(shape.reduce(1, *))
        for p in parts { data.append(contentsOf: p.data) }
        return (shape, data)
    }

    private final class ChunkResults: @unchecked Sendable {  // guarded by `lock`
        private let lock = NSLock()
        private(set) var values: [Value?]
        private(set) var error: GraphError?
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: Value) { lock.lock(); values[index] = value; lock.unlock() }
        func fail(_ e: GraphError) { lock.lock(); if error == nil { error = e }; lock.unlock() }
    }

    /// Takes one chunk through every node.
    func runGraph(_ input: Value) throws(GraphError) -> Value {
        var values: [String: Value] = [graph.inputName: input]
        var remaining: [String: Int] = [:]
        for node in nodes { for i in node.inputs { remaining[i, default: 0] += 1 } }
        for node in nodes {
            do {
                let outputs = try execute(node, values)
                for (name, v) in zip(node.outputs, outputs) { values[name] = v }
            } catch {
                throw GraphError("node '\(node.name)' (\(node.op)): \(error.problem)")
            }
            // Free what no later node reads.
            for i in node.inputs {
                remaining[i]! -= 1
                if remaining[i] == 0 && i != graph.outputName { values[i] = nil }
            }
        }
        guard let out = values[graph.outputName] else { throw GraphError("the output '\(graph.outputName)' was not computed") }
        return out
    }

    // MARK: Operators

    func float(_ name: String, _ values: [String: Value]) throws(GraphError) -> Value {
        if let v = values[name] { return v }
        if let w = weights[name] { return Value(shape: w.shape, data: w.data) }
        if let c = graph.integerConstants[name] { return Value(shape: c.shape, data: c.values.map { Float($0) }) }
        throw GraphError("input '\(name)' is not available")
    }

    func execute(_ node: GraphNode, _ values: [String: Value]) throws(GraphError) -> [Value] {
        /// Input i as it is held (channels-last or not), for operators that take either.
        func raw(_ i: Int) throws(GraphError) -> Value {
            guard i < node.inputs.count, !node.inputs[i].isEmpty else { throw GraphError("input \(i) is missing") }
            return try float(node.inputs[i], values)
        }
        /// Input i in ONNX's order.
        func input(_ i: Int) throws(GraphError) -> Value { canonical(try raw(i)) }
        func optional(_ i: Int) throws(GraphError) -> Value? {
            i < node.inputs.count && !node.inputs[i].isEmpty ? try input(i) : nil
        }
        switch node.op {
        case "Conv": return [try conv(node, try raw(0), try input(1), try optional(2))]
        case "BatchNormalization":
            let held = try raw(0)
            if fastKernels && held.channelsLast {
                return [try batchNormChannelsLast(node, held, try input(1), try input(2), try input(3), try input(4))]
            }
            let x = try input(0), scale = try input(1), shift = try input(2), mean = try input(3), variance = try input(4)
            guard x.shape.count >= 2 else { throw GraphError("input is \(x.shape)") }
            let c = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
            guard [scale, shift, mean, variance].allSatisfy({ $0.data.count == c }) else { throw GraphError("parameters do not have \(c) channels") }
            let epsilon = node.float("epsilon") ?? 1e-5
            var out = x
            for n in 0..<x.shape[0] {
                for ch in 0..<c {
                    let s = scale.data[ch] / (variance.data[ch] + epsilon).squareRoot(), b = shift.data[ch] - mean.data[ch] * s
                    let base = (n * c + ch) * inner
                    for i in 0..<inner { out.data[base + i] = x.data[base + i] * s + b }
                }
            }
            return [out]
        // Element-wise operators keep their input's layout.
        case "Relu":
            var x = try raw(0)
            if fastKernels { x.data.withUnsafeMutableBufferPointer { kernels.relu($0.baseAddress!, count: $0.count, y: $0.baseAddress!) }; return [x] }
            return [map(x) { max($0, 0) }]
        case "LeakyRelu":
            let alpha = node.float("alpha") ?? 0.01
            return [map(try raw(0)) { $0 >= 0 ? $0 : alpha * $0 }]
        case "Sigmoid":
            var x = try raw(0)
            if fastKernels { x.data.withUnsafeMutableBufferPointer { kernels.sigmoid($0.baseAddress!, count: $0.count, y: $0.baseAddress!) }; return [x] }
            return [map(x) { 1 / (1 + Foundation.exp(-$0)) }]
        case "HardSigmoid":
            let alpha = node.float("alpha") ?? 0.2, beta = node.float("beta") ?? 0.5
            return [map(try raw(0)) { max(0, min(1, alpha * $0 + beta)) }]
        case "HardSwish": return [map(try raw(0)) { $0 * max(0, min(1, $0 / 6 + 0.5)) }]
        case "Clip":
            var low = node.float("min") ?? -.infinity, high = node.float("max") ?? .infinity
            if let m = try optional(1) { guard m.data.count == 1 else { throw GraphError("min is not a scalar") }; low = m.data[0] }
            if let m = try optional(2) { guard m.data.count == 1 else { throw GraphError("max is not a scalar") }; high = m.data[0] }
            return [map(try raw(0)) { min(max($0, low), high) }]
        case "Add", "Mul":
            let relu = fusedRelu.contains(node.name)
            if fastKernels, let out = try binaryChannelsLast(node, try raw(0), try raw(1), relu: relu) { return [out] }
            var out = node.op == "Add" ? try broadcast(try input(0), try input(1), +) : try broadcast(try input(0), try input(1), *)
            if relu { out = map(out) { max($0, 0) } }
            return [out]
        case "Concat":
            if fastKernels, let out = try concatChannelsLast(node, (0..<node.inputs.count).map { i throws(GraphError) in try raw(i) }) {
                return [out]
            }
            return [try concat(node, (0..<node.inputs.count).map { i throws(GraphError) in try input(i) })]
        case "MaxPool", "AveragePool":
            let x = try raw(0)
            if fastKernels && x.channelsLast { return [try poolChannelsLast(node, x)] }
            return [try pool(node, canonical(x))]
        case "GlobalAveragePool":
            let held = try raw(0)
            if fastKernels && held.channelsLast { return [try globalAverageChannelsLast(held)] }
            let x = try input(0)
            guard x.shape.count == 4 else { throw GraphError("input is \(x.shape), not N × C × H × W") }
            let inner = x.shape[2] * x.shape[3], nc = x.shape[0] * x.shape[1]
            var out = [Float](repeating: 0, count: nc)
            for i in 0..<nc {
                var s: Float = 0
                for j in 0..<inner { s += x.data[i * inner + j] }
                out[i] = s / Float(inner)
            }
            return [Value(shape: [x.shape[0], x.shape[1], 1, 1], data: out)]
        case "Gemm": return [try gemm(node, try input(0), try input(1), try optional(2))]
        case "MatMul":
            let a = try input(0), b = try input(1)
            guard b.shape.count == 2, a.shape.count >= 2, a.shape.last == b.shape[0] else {
                throw GraphError("\(a.shape) × \(b.shape) is not a matrix product HistoScreen runs (the right side must be a 2-D weight)")
            }
            let m = a.data.count / b.shape[0], k = b.shape[0], n = b.shape[1]
            var out = [Float](repeating: 0, count: m * n)
            a.data.withUnsafeBufferPointer { pa in b.data.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { pc in
                Float.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                           beta: 0, c: pc.baseAddress!, ldc: n)
            } } }
            return [Value(shape: Array(a.shape.dropLast()) + [n], data: out)]
        case "Flatten":
            let x = try input(0)
            var axis = Int(node.int("axis") ?? 1)
            if axis < 0 { axis += x.shape.count }
            guard (0...x.shape.count).contains(axis) else { throw GraphError("axis \(axis) for a \(x.shape.count)-D input") }
            return [Value(shape: [x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)], data: x.data)]
        case "Reshape": return [try reshape(node, try input(0), values)]
        case "Pad": return [try pad(node, try input(0), try optional(2))]
        case "Transpose": return [try transpose(node, try input(0))]
        case "Shape":
            let x = try input(0)
            let rank = x.shape.count
            var start = Int(node.int("start") ?? 0), end = Int(node.int("end") ?? Int64(rank))
            if start < 0 { start += rank }; if end < 0 { end += rank }
            start = max(0, min(rank, start)); end = max(start, min(rank, end))
            return [Value(shape: [end - start], data: x.shape[start..<end].map { Float($0) })]
        case "Cast":
            // Values are held as float; integer types truncate (shapes and indices are exact below 2^24).
            let to = node.int("to") ?? 1
            guard [1, 6, 7, 10, 11].contains(to) else { throw GraphError("Cast to type \(to) is not supported") }
            return [map(try raw(0)) { [6, 7].contains(to) ? $0.rounded(.towardZero) : $0 }]
        case "Gather": return [try gather(node, try input(0), try input(1))]
        case "Slice": return [try slice(try input(0), try input(1), try input(2), try optional(3), try optional(4))]
        case "Unsqueeze", "Squeeze":
            let x = try input(0)
            let axesValue = try optional(1)
            let axes = axesValue?.data.map { Int($0) } ?? node.ints("axes")?.map { Int($0) }
            if node.op == "Unsqueeze" {
                guard let axes else { throw GraphError("axes are missing") }
                let rank = x.shape.count + axes.count
                var shape = x.shape
                for a in axes.map({ $0 < 0 ? $0 + rank : $0 }).sorted() {
                    guard (0...shape.count).contains(a) else { throw GraphError("axis \(a) out of range") }
                    shape.insert(1, at: a)
                }
                return [Value(shape: shape, data: x.data)]
            }
            let rank = x.shape.count
            let drop = Set((axes ?? x.shape.indices.filter { x.shape[$0] == 1 }).map { $0 < 0 ? $0 + rank : $0 })
            guard drop.allSatisfy({ (0..<rank).contains($0) && x.shape[$0] == 1 }) else { throw GraphError("cannot squeeze axes \(drop.sorted()) of \(x.shape)") }
            return [Value(shape: x.shape.indices.filter { !drop.contains($0) }.map { x.shape[$0] }, data: x.data)]
        case "Softmax": return [try softmax(node, try input(0))]
        case "Dropout", "Identity": return [try raw(0)]
        default: throw GraphError("operator \(node.op) has no kernel")
        }
    }

    func map(_ x: Value, _ f: (Float) -> Float) -> Value {
        var out = x
        out.data.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = f(p[i]) } }
        return out
    }

    /// NumPy-style broadcasting of two tensors.
    func broadcast(_ a: Value, _ b: Value, _ f: (Float, Float) -> Float) throws(GraphError) -> Value {
        if a.shape == b.shape {
            var out = a
            for i in out.data.indices { out.data[i] = f(a.data[i], b.data[i]) }
            return out
        }
        let rank = max(a.shape.count, b.shape.count)
        let sa = Array(repeating: 1, count: rank - a.shape.count) + a.shape, sb = Array(repeating: 1, count: rank - b.shape.count) + b.shape
        var shape = [Int](repeating: 1, count: rank)
        for d in 0..<rank {
            guard sa[d] == sb[d] || sa[d] == 1 || sb[d] == 1 else { throw GraphError("shapes \(a.shape) and \(b.shape) do not broadcast") }
            shape[d] = max(sa[d], sb[d])
        }
        func strides(_ s: [Int]) -> [Int] {
            var out = [Int](repeating: 0, count: rank), step = 1
            for d in stride(from: rank - 1, through: 0, by: -1) { out[d] = s[d] == 1 ? 0 : step; step *= s[d] }
            return out
        }
        let ta = strides(sa), tb = strides(sb)
        let count = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        // The innermost dimension in a loop; the outer ones by an index counter.
        let inner = shape[rank - 1], ia = ta[rank - 1], ib = tb[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var o = 0
        while o < count {
            var oa = 0, ob = 0
            for d in 0..<(rank - 1) { oa += index[d] * ta[d]; ob += index[d] * tb[d] }
            for j in 0..<inner { out[o + j] = f(a.data[oa + j * ia], b.data[ob + j * ib]) }
            o += inner
            var d = rank - 2
            while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
        }
        return Value(shape: shape, data: out)
    }

    func concat(_ node: GraphNode, _ parts: [Value]) throws(GraphError) -> Value {
        let rank = parts[0].shape.count
        var axis = Int(node.int("axis") ?? 1)
        if axis < 0 { axis += rank }
        guard (0..<rank).contains(axis) else { throw GraphError("axis \(axis) for \(rank)-D inputs") }
        for p in parts {
            guard p.shape.count == rank, (0..<rank).allSatisfy({ $0 == axis || p.shape[$0] == parts[0].shape[$0] }) else {
                throw GraphError("inputs \(parts.map(\.shape)) do not match outside axis \(axis)")
            }
        }
        let outer = parts[0].shape[..<axis].reduce(1, *), innerSize = parts[0].shape[(axis + 1)...].reduce(1, *)
        var shape = parts[0].shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        var out = [Float](); out.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer {
            for p in parts {
                let chunk = p.shape[axis] * innerSize
                out.append(contentsOf: p.data[(o * chunk)..<((o + 1) * chunk)])
            }
        }
        return Value(shape: shape, data: out)
    }

    func reshape(_ node: GraphNode, _ x: Value, _ values: [String: Value]) throws(GraphError) -> Value {
        guard node.inputs.count > 1 else { throw GraphError("the target shape is missing") }
        // A constant shape, or one computed by Shape arithmetic in the graph.
        let target: GraphModel.IntegerTensor
        if let constant = graph.integerConstants[node.inputs[1]] {
            target = constant
        } else if let computed = values[node.inputs[1]], computed.shape.count == 1, computed.data.allSatisfy({ $0 == $0.rounded() && abs($0) < 16_777_216 }) {
            target = GraphModel.IntegerTensor(shape: computed.shape, values: computed.data.map { Int64($0) })
        } else {
            throw GraphError("the target shape must be a constant or computed from shapes")
        }
        var shape = target.values.map { Int(clamping: $0) }
        let allowZero = (node.int("allowzero") ?? 0) != 0
        for (d, v) in shape.enumerated() where v == 0 && !allowZero {
            guard d < x.shape.count else { throw GraphError("0 copies dimension \(d) of a \(x.shape.count)-D input") }
            shape[d] = x.shape[d]
        }
        // A graph exported for one image writes its batch size (1) into the shape; it is the batch.
        if shape.first == 1, x.shape[0] > 1, !shape.contains(-1) || shape.filter({ $0 == -1 }).count == 1 {
            let perImage = x.data.count / x.shape[0]
            let rest = shape.dropFirst()
            if rest.contains(-1) || rest.reduce(1, *) == perImage { shape[0] = x.shape[0] }
        }
        let known = shape.filter { $0 != -1 }
        guard shape.filter({ $0 == -1 }).count <= 1, known.allSatisfy({ $0 >= 0 }) else { throw GraphError("target shape \(target.values)") }
        let product = known.reduce(1, *)
        if let free = shape.firstIndex(of: -1) {
            guard product > 0, x.data.count % product == 0 else { throw GraphError("\(x.shape) cannot become \(target.values)") }
            shape[free] = x.data.count / product
        }
        guard shape.reduce(1, *) == x.data.count else { throw GraphError("\(x.shape) cannot become \(shape)") }
        return Value(shape: shape, data: x.data)
    }

    func transpose(_ node: GraphNode, _ x: Value) throws(GraphError) -> Value {
        let rank = x.shape.count
        let perm = node.ints("perm")?.map { Int($0) } ?? Array((0..<rank).reversed())
        guard perm.count == rank, Set(perm) == Set(0..<rank) else { throw GraphError("perm \(perm) for a \(rank)-D input") }
        let shape = perm.map { x.shape[$0] }
        var strides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * x.shape[d + 1] }
        let from = perm.map { strides[$0] }  // input stride of each output axis
        var out = [Float](repeating: 0, count: x.data.count)
        var index = [Int](repeating: 0, count: rank)
        for o in 0..<out.count {
            var i = 0
            for d in 0..<rank { i += index[d] * from[d] }
            out[o] = x.data[i]
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
        }
        return Value(shape: shape, data: out)
    }

    func gather(_ node: GraphNode, _ x: Value, _ indices: Value) throws(GraphError) -> Value {
        let rank = x.shape.count
        var axis = Int(node.int("axis") ?? 0)
        if axis < 0 { axis += rank }
        guard (0..<rank).contains(axis) else { throw GraphError("axis \(axis) for a \(rank)-D input") }
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *), n = x.shape[axis]
        var picks: [Int] = []
        for v in indices.data {
            var i = Int(v)
            if i < 0 { i += n }
            guard (0..<n).contains(i) else { throw GraphError("index \(Int(v)) out of range for \(n)") }
            picks.append(i)
        }
        var out: [Float] = []
        out.reserveCapacity(outer * picks.count * inner)
        for o in 0..<outer { for i in picks { out.append(contentsOf: x.data[((o * n + i) * inner)..<((o * n + i + 1) * inner)]) } }
        return Value(shape: Array(x.shape[..<axis]) + indices.shape + Array(x.shape[(axis + 1)...]), data: out)
    }

    /// Slice with constant or computed starts, ends, axes and positive or negative steps.
    func slice(_ x: Value, _ starts: Value, _ ends: Value, _ axesValue: Value?, _ stepsValue: Value?) throws(GraphError) -> Value {
        let rank = x.shape.count
        let axes = axesValue?.data.map { Int($0) < 0 ? Int($0) + rank : Int($0) } ?? Array(0..<starts.data.count)
        let steps = stepsValue?.data.map { Int($0) } ?? [Int](repeating: 1, count: axes.count)
        guard starts.data.count == axes.count, ends.data.count == axes.count, steps.count == axes.count,
              axes.allSatisfy({ (0..<rank).contains($0) }), steps.allSatisfy({ $0 != 0 }) else {
            throw GraphError("starts, ends, axes and steps do not match a \(rank)-D input")
        }
        var begin = [Int](repeating: 0, count: rank), step = [Int](repeating: 1, count: rank), count = x.shape
        for (k, a) in axes.enumerated() {
            let n = x.shape[a], s = steps[k]
            func clampIndex(_ v: Float, _ low: Int, _ high: Int) -> Int {
                let i = v > Float(Int32.max) ? Int(Int32.max) : v < Float(Int32.min) ? Int(Int32.min) : Int(v)
                return max(low, min(high, i < 0 ? i + n : i))
            }
            if s > 0 {
                let b = clampIndex(starts.data[k], 0, n), e = clampIndex(ends.data[k], 0, n)
                begin[a] = b; count[a] = max(0, (e - b + s - 1) / s)
            } else {
                let b = clampIndex(starts.data[k], -1, n - 1), e = clampIndex(ends.data[k], -1, n - 1)
                begin[a] = b; count[a] = max(0, (b - e - s - 1) / -s)
            }
            step[a] = s
        }
        var strides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * x.shape[d + 1] }
        let total = count.reduce(1, *)
        var out = [Float](repeating: 0, count: total)
        var index = [Int](repeating: 0, count: rank)
        for o in 0..<total {
            var i = 0
            for d in 0..<rank { i += (begin[d] + index[d] * step[d]) * strides[d] }
            out[o] = x.data[i]
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < count[d] { break }; index[d] = 0; d -= 1 }
        }
        return Value(shape: count, data: out)
    }

    /// Constant padding (the only mode supported): pads are [begin per axis…, end per axis…].
    func pad(_ node: GraphNode, _ x: Value, _ constant: Value?) throws(GraphError) -> Value {
        let mode = node.string("mode") ?? "constant"
        guard mode == "constant" else { throw GraphError("mode \(mode) is not supported (only constant)") }
        guard node.inputs.count > 1, let pads = graph.integerConstants[node.inputs[1]]?.values.map({ Int(clamping: $0) }) else {
            throw GraphError("the pads must be a constant of the graph")
        }
        let rank = x.shape.count
        guard pads.count == 2 * rank, pads.allSatisfy({ (0...4096).contains($0) }) else { throw GraphError("pads \(pads) for a \(rank)-D input") }
        let value = constant?.data.first ?? 0
        if pads.allSatisfy({ $0 == 0 }) { return x }
        let shape = (0..<rank).map { x.shape[$0] + pads[$0] + pads[rank + $0] }
        guard shape.reduce(1, *) <= 1 << 28 else { throw GraphError("the output would hold more than 2^28 values") }
        var out = [Float](repeating: value, count: shape.reduce(1, *))
        var index = [Int](repeating: 0, count: rank)
        for v in x.data {
            var o = 0
            for d in 0..<rank { o = o * shape[d] + index[d] + pads[d] }
            out[o] = v
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < x.shape[d] { break }; index[d] = 0; d -= 1 }
        }
        return Value(shape: shape, data: out)
    }

    func softmax(_ node: GraphNode, _ x: Value) throws(GraphError) -> Value {
        let rank = x.shape.count
        var axis = Int(node.int("axis") ?? (graph.opset >= 13 ? -1 : 1))
        if axis < 0 { axis += rank }
        guard (0..<rank).contains(axis) else { throw GraphError("axis \(axis) for a \(rank)-D input") }
        // Opset 13 and later: along one axis. Earlier: over all dimensions from `axis` on.
        let outer = x.shape[..<axis].reduce(1, *)
        let length = graph.opset >= 13 ? x.shape[axis] : x.shape[axis...].reduce(1, *)
        let inner = graph.opset >= 13 ? x.shape[(axis + 1)...].reduce(1, *) : 1
        var out = x
        for o in 0..<outer {
            for i in 0..<inner {
                var m = -Float.infinity
                for k in 0..<length { m = max(m, x.data[(o * length + k) * inner + i]) }
                var s: Float = 0
                for k in 0..<length { let e = Foundation.exp(x.data[(o * length + k) * inner + i] - m); out.data[(o * length + k) * inner + i] = e; s += e }
                for k in 0..<length { out.data[(o * length + k) * inner + i] /= s }
            }
        }
        return out
    }

    func gemm(_ node: GraphNode, _ a: Value, _ b: Value, _ c: Value?) throws(GraphError) -> Value {
        guard a.shape.count == 2, b.shape.count == 2 else { throw GraphError("Gemm takes 2-D inputs, got \(a.shape) and \(b.shape)") }
        let transA = (node.int("transA") ?? 0) != 0, transB = (node.int("transB") ?? 0) != 0
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
        guard k == kb else { throw GraphError("\(a.shape) and \(b.shape) do not multiply") }
        let alpha = node.float("alpha") ?? 1, beta = node.float("beta") ?? 1
        var out = [Float](repeating: 0, count: m * n)
        if let c {
            let bias = try broadcast(Value(shape: [m, n], data: out), c, +)
            out = bias.data.map { $0 * beta }
        }
        a.data.withUnsafeBufferPointer { pa in b.data.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { pc in
            Float.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: a.shape[1],
                       b: pb.baseAddress!, ldb: b.shape[1], beta: c == nil ? 0 : 1, c: pc.baseAddress!, ldc: n)
        } } }
        return Value(shape: [m, n], data: out)
    }

    /// Output size and padding along one axis, by ONNX's rules.
    static func window(_ size: Int, kernel: Int, stride: Int, dilation: Int, padBegin: Int, padEnd: Int, autoPad: String,
                       ceilMode: Bool = false) throws(GraphError) -> (out: Int, padBegin: Int) {
        let span = (kernel - 1) * dilation + 1
        switch autoPad {
        case "SAME_UPPER", "SAME_LOWER":
            let out = (size + stride - 1) / stride
            let total = max(0, (out - 1) * stride + span - size)
            return (out, autoPad == "SAME_UPPER" ? total / 2 : total - total / 2)
        case "VALID":
            guard size >= span else { throw GraphError("a window of \(span) does not fit in \(size)") }
            return ((size - span) / stride + 1, 0)
        case "NOTSET", "":
            let padded = size + padBegin + padEnd
            guard padded >= span else { throw GraphError("a window of \(span) does not fit in \(padded)") }
            var out = ceilMode ? (padded - span + stride - 1) / stride + 1 : (padded - span) / stride + 1
            // The last window must start inside the image or its leading padding.
            if ceilMode && (out - 1) * stride >= size + padBegin { out -= 1 }
            return (out, padBegin)
        default:
            throw GraphError("auto_pad \(autoPad) is not supported")
        }
    }

    struct Geometry { var kh, kw, sh, sw, dh, dw, oh, ow, pt, pl: Int }

    func geometry(_ node: GraphNode, height: Int, width: Int, kernel: [Int]) throws(GraphError) -> Geometry {
        let strides = node.ints("strides")?.map { Int(clamping: $0) } ?? [1, 1]
        let dilations = node.ints("dilations")?.map { Int(clamping: $0) } ?? [1, 1]
        let pads = node.ints("pads")?.map { Int(clamping: $0) } ?? [0, 0, 0, 0]
        guard kernel.count == 2, strides.count == 2, dilations.count == 2, pads.count == 4 else {
            throw GraphError("only 2-D windows are supported (kernel \(kernel), strides \(strides), dilations \(dilations), pads \(pads))")
        }
        guard (kernel + strides + dilations).allSatisfy({ (1...1024).contains($0) }), pads.allSatisfy({ (0...1024).contains($0) }) else {
            throw GraphError("kernel, strides, dilations or pads out of range")
        }
        let autoPad = node.string("auto_pad") ?? "NOTSET"
        let ceil = (node.int("ceil_mode") ?? 0) != 0
        let y = try Self.window(height, kernel: kernel[0], stride: strides[0], dilation: dilations[0], padBegin: pads[0], padEnd: pads[2],
                                autoPad: autoPad, ceilMode: ceil)
        let x = try Self.window(width, kernel: kernel[1], stride: strides[1], dilation: dilations[1], padBegin: pads[1], padEnd: pads[3],
                                autoPad: autoPad, ceilMode: ceil)
        return Geometry(kh: kernel[0], kw: kernel[1], sh: strides[0], sw: strides[1], dh: dilations[0], dw: dilations[1],
                        oh: y.out, ow: x.out, pt: y.padBegin, pl: x.padBegin)
    }

    func conv(_ node: GraphNode, _ held: Value, _ w: Value, _ b: Value?) throws(GraphError) -> Value {
        if let plan = plans[node.name] { return try convChannelsLast(node, plan, held) }
        guard held.shape.count == 4, w.shape.count == 4 else { throw GraphError("only 2-D convolutions are supported (input \(held.shape), kernel \(w.shape))") }
        let (n, c, h, wd) = (held.shape[0], held.shape[1], held.shape[2], held.shape[3])
        let m = w.shape[0], groups = Int(clamping: node.int("group") ?? 1)
        guard groups >= 1, c % groups == 0, m % groups == 0, w.shape[1] == c / groups else {
            throw GraphError("kernel \(w.shape) with \(groups) groups does not fit \(c) input channels")
        }
        if let declared = node.ints("kernel_shape"), declared.map({ Int($0) }) != [w.shape[2], w.shape[3]] {
            throw GraphError("kernel_shape \(declared) differs from the kernel's \(w.shape)")
        }
        if let b, b.data.count != m { throw GraphError("bias of \(b.data.count) for \(m) output channels") }
        let g = try geometry(node, height: h, width: wd, kernel: [w.shape[2], w.shape[3]])
        let cg = c / groups, mg = m / groups, kk = cg * g.kh * g.kw, plane = g.oh * g.ow
        guard n * m * plane <= 1 << 28 else { throw GraphError("the output would hold more than 2^28 values") }
        if planning && fastKernels, let plan = makePlan(node, input: [c, h, wd], geometry: g) {
            plans[node.name] = plan
            return try convChannelsLast(node, plan, held)
        }
        let x = canonical(held)
        var out = [Float](repeating: 0, count: n * m * plane)
        let relu = fusedRelu.contains(node.name)
        let depthwise = cg == 1 && mg == 1
        let pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == h && g.ow == wd
        x.data.withUnsafeBufferPointer { px in w.data.withUnsafeBufferPointer { pw in out.withUnsafeMutableBufferPointer { po in
            do {
                var cols = [Float](repeating: 0, count: depthwise || pointwise ? 0 : kk * plane)
                for image in 0..<n {
                    for group in 0..<groups {
                        let input = px.baseAddress! + (image * c + group * cg) * h * wd
                        let output = po.baseAddress! + (image * m + group * mg) * plane
                        let kernel = pw.baseAddress! + group * mg * kk
                        if depthwise {
                            Self.depthwise(input, kernel, output, h: h, w: wd, g)
                            continue
                        }
                        if pointwise {
                            Float.gemm(transA: false, transB: false, m: mg, n: plane, k: cg, alpha: 1, a: kernel, lda: kk, b: input, ldb: plane,
                                       beta: 0, c: output, ldc: plane)
                            continue
                        }
                        cols.withUnsafeMutableBufferPointer { col in
                            Self.im2col(input, col.baseAddress!, channels: cg, h: h, w: wd, g)
                            Float.gemm(transA: false, transB: false, m: mg, n: plane, k: kk, alpha: 1, a: kernel, lda: kk,
                                       b: col.baseAddress!, ldb: plane, beta: 0, c: output, ldc: plane)
                        }
                    }
                    for channel in 0..<m {
                        let bias = b?.data[channel] ?? 0
                        let o = po.baseAddress! + (image * m + channel) * plane
                        if relu { for i in 0..<plane { o[i] = max(o[i] + bias, 0) } } else if bias != 0 { for i in 0..<plane { o[i] += bias } }
                    }
                }
            }
        } } }
        return Value(shape: [n, m, g.oh, g.ow], data: out)
    }

    /// Columns of one group's input: row (ci, ky, kx), column (oy, ox); zero in the padding.
    static func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, channels: Int, h: Int, w: Int, _ g: Geometry) {
        var row = 0
        for ci in 0..<channels {
            for ky in 0..<g.kh {
                for kx in 0..<g.kw {
                    let dst = col + row * g.oh * g.ow
                    for oy in 0..<g.oh {
                        let iy = oy * g.sh - g.pt + ky * g.dh
                        let line = dst + oy * g.ow
                        guard iy >= 0 && iy < h else { line.update(repeating: 0, count: g.ow); continue }
                        let src = x + (ci * h + iy) * w
                        for ox in 0..<g.ow {
                            let ix = ox * g.sw - g.pl + kx * g.dw
                            line[ox] = ix >= 0 && ix < w ? src[ix] : 0
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// One channel convolved with its own kernel.
    static func depthwise(_ x: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, h: Int, w: Int, _ g: Geometry) {
        for oy in 0..<g.oh {
            for ox in 0..<g.ow {
                var s: Float = 0
                for ky in 0..<g.kh {
                    let iy = oy * g.sh - g.pt + ky * g.dh
                    guard iy >= 0 && iy < h else { continue }
                    for kx in 0..<g.kw {
                        let ix = ox * g.sw - g.pl + kx * g.dw
                        if ix >= 0 && ix < w { s += x[iy * w + ix] * k[ky * g.kw + kx] }
                    }
                }
                out[oy * g.ow + ox] = s
            }
        }
    }

    /// A pool's bottom and right padding: with explicit pads, the padded extent ends at
    /// h + pad_bottom; SAME pads end where the windows need.
    static func padEnds(_ node: GraphNode, _ g: Geometry, height h: Int, width w: Int) -> (Int, Int) {
        let pads = node.ints("pads")?.map { Int(clamping: $0) } ?? [0, 0, 0, 0]
        guard (node.string("auto_pad") ?? "NOTSET") != "NOTSET" else { return (pads[2], pads[3]) }
        return (max(0, (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1 - h - g.pt), max(0, (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1 - w - g.pl))
    }

    func pool(_ node: GraphNode, _ x: Value) throws(GraphError) -> Value {
        guard x.shape.count == 4 else { throw GraphError("input is \(x.shape), not N × C × H × W") }
        guard let kernel = node.ints("kernel_shape")?.map({ Int(clamping: $0) }) else { throw GraphError("kernel_shape is missing") }
        if (node.int("storage_order") ?? 0) != 0 { throw GraphError("storage_order 1 is not supported") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = try geometry(node, height: h, width: w, kernel: kernel)
        let isMax = node.op == "MaxPool"
        let includePad = (node.int("count_include_pad") ?? 0) != 0
        let (padEndY, padEndX) = Self.padEnds(node, g, height: h, width: w)
        var out = [Float](repeating: 0, count: n * c * g.oh * g.ow)
        for plane in 0..<(n * c) {
            let src = plane * h * w, dst = plane * g.oh * g.ow
            for oy in 0..<g.oh {
                for ox in 0..<g.ow {
                    var best = -Float.infinity, sum: Float = 0, valid = 0
                    for ky in 0..<g.kh {
                        let iy = oy * g.sh - g.pt + ky * g.dh
                        guard iy >= 0 && iy < h else { continue }
                        for kx in 0..<g.kw {
                            let ix = ox * g.sw - g.pl + kx * g.dw
                            guard ix >= 0 && ix < w else { continue }
                            let v = x.data[src + iy * w + ix]
                            best = max(best, v); sum += v; valid += 1
                        }
                    }
                    if isMax {
                        out[dst + oy * g.ow + ox] = best
                    } else {
                        var divisor = valid
                        if includePad {
                            // The window clipped to the padded image (ceil mode may run past it).
                            let y0 = oy * g.sh - g.pt, x0 = ox * g.sw - g.pl
                            let y1 = min(y0 + g.kh, h + padEndY), x1 = min(x0 + g.kw, w + padEndX)
                            divisor = (y1 - max(y0, -g.pt)) * (x1 - max(x0, -g.pl))
                        }
                        out[dst + oy * g.ow + ox] = divisor > 0 ? sum / Float(divisor) : 0
                    }
                }
            }
        }
        return Value(shape: [n, c, g.oh, g.ow], data: out)
    }
}
