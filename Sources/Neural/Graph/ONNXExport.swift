import Foundation

/// Writes a bundle as an ONNX model (opset 13): imported graphs as they were imported, and
/// built-in sequential networks converted to the same operators in NCHW with PyTorch's names
/// and layouts (`<layer>.weight` as [Cout, Cin, KH, KW]; batch norm's `weight`, `bias`,
/// `running_mean`, `running_var`; dense layers as Gemm with their [in, out] kernel), ending in
/// Sigmoid so the output is the probability. The model takes normalised input, as the bundle's
/// engine does; µm per pixel, normalisation, classes and threshold go into the metadata.
public enum ONNXExport {
    public static let opset = 13

    /// The sequential network as a graph (what `export` writes, and what the graph engine can run).
    public static func graph(of network: Network<Float>) throws(GraphError) -> (GraphModel, [String: Tensor<Float>]) {
        let spec = network.spec
        let weights = network.weights()
        var nodes: [GraphNode] = [], tensors: [String: Tensor<Float>] = [:]
        var current = "input"
        // A Flatten of an NHWC map orders features (h, w, c); ONNX's of NCHW orders (c, h, w).
        // The next dense kernel's rows are permuted to match.
        var flattened: (h: Int, w: Int, c: Int)?
        func add(_ op: String, _ name: String, _ inputs: [String], _ attributes: [String: GraphAttribute] = [:]) {
            let output = "\(name).out"
            nodes.append(GraphNode(name: name, op: op, inputs: [current] + inputs, outputs: [output], attributes: attributes))
            current = output
        }
        // Residual blocks recurse: branch, then shortcut from the same input, then Add.
        func emit(_ specs: [LayerSpec], _ layers: [any Layer<Float>], _ shapes: [[Int]]) throws(GraphError) {
            for (index, layer) in specs.enumerated() {
                let input = shapes[index]  // NHWC without batch: [H, W, C] or [features]
                func w(_ key: String) throws(GraphError) -> Tensor<Float> {
                    guard let t = weights["\(layer.name).\(key)"] else { throw GraphError("layer '\(layer.name)' has no \(key)") }
                    return t
                }
                switch layer.type {
                case .conv2d:
                    let kernel = try w("kernel")  // [KH, KW, Cin, Cout]
                    let (kh, kw, cin, cout) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
                    var oihw = [Float](repeating: 0, count: kernel.count)
                    for y in 0..<kh { for x in 0..<kw { for i in 0..<cin { for o in 0..<cout {
                        oihw[((o * cin + i) * kh + y) * kw + x] = kernel.data[((y * kw + x) * cin + i) * cout + o]
                    } } } }
                    tensors["\(layer.name).weight"] = Tensor(shape: [cout, cin, kh, kw], data: oihw)
                    let stride = layer.stride ?? 1
                    let p: Padding2D = switch layer.padding ?? .same {
                    case .same: .same(height: input[0], width: input[1], kernel: kh, stride: stride)
                    case .valid: .zero
                    case let .explicit(p): p
                    }
                    var inputs = ["\(layer.name).weight"]
                    if let bias = weights["\(layer.name).bias"] { tensors["\(layer.name).bias"] = bias; inputs.append("\(layer.name).bias") }
                    add("Conv", layer.name, inputs, ["kernel_shape": .ints([Int64(kh), Int64(kw)]), "strides": .ints([Int64(stride), Int64(stride)]),
                                                      "pads": .ints([p.top, p.left, p.bottom, p.right].map { Int64($0) })])
                case .batchnorm:
                    for (ours, theirs) in [("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var")] {
                        tensors["\(layer.name).\(theirs)"] = try w(ours)
                    }
                    add("BatchNormalization", layer.name, ["weight", "bias", "running_mean", "running_var"].map { "\(layer.name).\($0)" },
                        ["epsilon": .float(Float(layer.epsilon ?? 1e-3))])
                case .relu:
                    add("Relu", layer.name, [])
                case .maxpool:
                    let k = Int64(layer.kernel ?? 2), s = Int64(layer.stride ?? 2)
                    add("MaxPool", layer.name, [], ["kernel_shape": .ints([k, k]), "strides": .ints([s, s])])
                case .globalAveragePool:
                    add("GlobalAveragePool", layer.name, [])
                    add("Flatten", "\(layer.name)_flatten", [], ["axis": .int(1)])
                case .flatten:
                    if input.count == 3 && input[0] * input[1] > 1 { flattened = (input[0], input[1], input[2]) }
                    add("Flatten", layer.name, [], ["axis": .int(1)])
                case .dropout:
                    continue
                case .dense:
                    var kernel = try w("kernel")  // [in, out]
                    if let f = flattened {
                        kernel = GraphModel.reorderedFlattenRows(kernel, h: f.h, w: f.w, c: f.c, toHWC: false)
                        flattened = nil
                    }
                    tensors["\(layer.name).weight"] = kernel
                    var inputs = ["\(layer.name).weight"]
                    if let bias = weights["\(layer.name).bias"] { tensors["\(layer.name).bias"] = bias; inputs.append("\(layer.name).bias") }
                    add("Gemm", layer.name, inputs)
                case .residual:
                    guard let block = layers[index] as? Residual<Float> else { throw GraphError("layer '\(layer.name)' is not a residual block") }
                    let start = current
                    try emit(layer.layers ?? [], block.branch.layers, block.branch.shapes)
                    let branchOutput = current
                    current = start
                    try emit(layer.shortcut ?? [], block.shortcut.layers, block.shortcut.shapes)
                    add("Add", layer.name, [branchOutput])
                }
            }
        }
        try emit(spec.layers, network.layers, network.shapes)
        add("Sigmoid", "probability", [])
        let graph = GraphModel(opset: opset, source: "histoscreen \(spec.name)", inputName: "input",
                               inputShape: [spec.inputShape[2], spec.inputShape[0], spec.inputShape[1]], outputName: current, nodes: nodes,
                               initializers: tensors.mapValues(\.shape), integerConstants: [:])
        return (graph, tensors)
    }

    /// The ONNX file's bytes for a bundle.
    public static func encode(_ bundle: ModelBundle, producerVersion: String) throws(GraphError) -> [UInt8] {
        let graph: GraphModel, weights: [String: Tensor<Float>]
        if let imported = bundle.manifest.graph {
            (graph, weights) = (imported, bundle.graphWeights)
        } else {
            (graph, weights) = try Self.graph(of: bundle.network)
        }
        let m = bundle.manifest
        var metadata: [(String, String)] = [
            ("histoscreen.name", m.name), ("histoscreen.micronsPerPixel", "\(m.micronsPerPixel)"),
            ("histoscreen.normalization", "x = (pixel / 255 - mean) / std; mean \(m.normalization.mean), std \(m.normalization.std)"),
            ("histoscreen.threshold", "\(m.threshold)"),
            ("histoscreen.classes", (m.classes ?? ["tumour"]).joined(separator: ",")),
            ("histoscreen.positiveClass", m.positiveClass ?? "tumour"),
        ]
        if m.graph != nil, let activation = m.outputActivation, activation != .none {
            metadata.append(("histoscreen.outputActivation", activation.rawValue))
        }
        return try encode(graph, weights: weights, producerVersion: producerVersion, metadata: metadata)
    }

    /// The ONNX bytes of a graph; it is run once first, which checks it and gives the output's shape.
    public static func encode(_ graph: GraphModel, weights: [String: Tensor<Float>], producerVersion: String,
                              metadata: [(String, String)] = []) throws(GraphError) -> [UInt8] {
        let outputShape = try GraphEngine(graph: graph, weights: weights).outputShape
        var model = ProtoWriter()
        model.int(1, 8)  // ir_version
        model.string(2, "histoscreen")
        model.string(3, producerVersion)
        model.message(7) { g in
            for node in graph.nodes {
                g.message(1) { n in
                    for i in node.inputs { n.string(1, i) }
                    for o in node.outputs { n.string(2, o) }
                    n.string(3, node.name)
                    n.string(4, node.op)
                    for (name, value) in node.attributes.sorted(by: { $0.key < $1.key }) {
                        n.message(5) { a in
                            a.string(1, name)
                            switch value {
                            case let .float(v): a.float(2, v); a.int(20, 1)
                            case let .int(v): a.int(3, v); a.int(20, 2)
                            case let .string(v): a.string(4, v); a.int(20, 3)
                            case let .floats(v): a.packedFloats(7, v); a.int(20, 6)
                            case let .ints(v): a.packedInts(8, v); a.int(20, 7)
                            }
                        }
                    }
                }
            }
            g.string(2, graph.source)
            for name in weights.keys.sorted() {
                let t = weights[name]!
                g.message(5) { tensor in
                    tensor.packedInts(1, t.shape.map { Int64($0) })
                    tensor.int(2, 1)  // FLOAT
                    tensor.string(8, name)
                    var raw = [UInt8](); raw.reserveCapacity(t.count * 4)
                    for v in t.data { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
                    tensor.data(9, raw)
                }
            }
            for name in graph.integerConstants.keys.sorted() {
                let c = graph.integerConstants[name]!
                g.message(5) { tensor in
                    tensor.packedInts(1, c.shape.map { Int64($0) })
                    tensor.int(2, 7)  // INT64
                    tensor.string(8, name)
                    tensor.packedInts(7, c.values)
                }
            }
            func valueInfo(_ field: Int, _ name: String, _ dims: [Int?]) {
                g.message(field) { v in
                    v.string(1, name)
                    v.message(2) { type in
                        type.message(1) { tensor in
                            tensor.int(1, 1)
                            tensor.message(2) { shape in
                                for d in dims { shape.message(1) { dim in if let d { dim.int(1, Int64(d)) } else { dim.string(2, "N") } } }
                            }
                        }
                    }
                }
            }
            valueInfo(11, graph.inputName, [nil] + graph.inputShape)
            valueInfo(12, graph.outputName, [nil] + outputShape.dropFirst().map { Optional($0) })
        }
        model.message(8) { o in o.string(1, ""); o.int(2, Int64(graph.opset)) }
        for (key, value) in metadata {
            model.message(14) { e in e.string(1, key); e.string(2, value) }
        }
        return model.bytes
    }
}
