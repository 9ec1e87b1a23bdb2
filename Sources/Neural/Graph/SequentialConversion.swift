import Foundation

/// An imported graph that is a straight chain of the built-in layer types, converted to a
/// built-in sequential network (Keras layouts, NHWC) so that it can be trained: the inverse of
/// `ONNXExport.graph(of:)`. Graphs with branches (Add, Concat) or operators the built-in layers
/// lack are refused, naming the node: the graph engine has no backward pass.
public enum SequentialConversion {
    /// Layer names: the node's, with anything but letters, digits and '_' replaced.
    static func layerName(_ node: GraphNode, _ used: inout Set<String>) -> String {
        var name = String(node.name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" }).trimmingCharacters(in: CharacterSet(charactersIn: "_"))
        if name.isEmpty { name = node.op.lowercased() }
        var unique = name, k = 2
        while used.contains(unique) { unique = "\(name)_\(k)"; k += 1 }
        used.insert(unique)
        return unique
    }

    static let shapeArithmetic: Set<String> = ["Shape", "Gather", "Slice", "Cast", "Unsqueeze", "Squeeze", "Concat"]

    public static func convert(_ graph: GraphModel, weights: [String: Tensor<Float>], name: String) throws(GraphError) -> (ModelSpec, [String: Tensor<Float>]) {
        func fail(_ node: GraphNode, _ why: String) -> GraphError {
            GraphError("node '\(node.name)' (\(node.op)) \(why); training needs a sequential network of built-in layers (the graph engine has no backward pass)")
        }
        func weight(_ node: GraphNode, _ i: Int) throws(GraphError) -> Tensor<Float> {
            guard i < node.inputs.count, let w = weights[node.inputs[i]] else { throw fail(node, "has no weight input \(i)") }
            return w
        }
        let (c0, h0, w0) = (graph.inputShape[0], graph.inputShape[1], graph.inputShape[2])
        var layers: [LayerSpec] = [], out: [String: Tensor<Float>] = [:], used = Set<String>()
        var current = graph.inputName
        var shape: [Int] = [h0, w0, c0]          // NHWC of the current value, or [features]
        var nhwcOrder = false                     // a Transpose to NHWC precedes the flatten
        var flattenedCHW: (h: Int, w: Int, c: Int)?
        var pendingMatMul: (name: String, kernel: Tensor<Float>)?
        /// A dense layer from an [in, out] kernel; after a Flatten in ONNX's (c, h, w) order its
        /// rows are reordered to the built-in Flatten's (h, w, c).
        func emitDense(_ layer: String, _ kernel: Tensor<Float>, _ bias: Tensor<Float>?, _ node: GraphNode) throws(GraphError) {
            var kernel = kernel
            guard shape.count == 1, kernel.shape[0] == shape[0] else { throw fail(node, "takes \(kernel.shape[0]) features after \(shape)") }
            if let f = flattenedCHW {
                kernel = GraphModel.reorderedFlattenRows(kernel, h: f.h, w: f.w, c: f.c, toHWC: true)
                flattenedCHW = nil
            }
            out["\(layer).kernel"] = kernel
            if let bias { out["\(layer).bias"] = bias }
            layers.append(.dense(layer, kernel.shape[1], bias: bias != nil))
            shape = [kernel.shape[1]]
        }
        // Nodes computing shapes (for a Reshape) read `current` but are not in the chain.
        for node in graph.nodes {
            if shapeArithmetic.contains(node.op) && !(node.op == "Concat" && node.inputs.contains(current)) {
                if node.op == "Squeeze" && node.inputs.first == current { } else { continue }
            }
            guard node.inputs.first == current else { throw fail(node, "reads '\(node.inputs.first ?? "")', not the previous layer's output '\(current)': the graph branches") }
            let computedShapes = Set(graph.nodes.filter { shapeArithmetic.contains($0.op) }.flatMap(\.outputs))
            if let other = node.inputs.dropFirst().first(where: { input in
                !input.isEmpty && weights[input] == nil && graph.integerConstants[input] == nil && !computedShapes.contains(input)
            }) {
                throw fail(node, "joins another branch ('\(other)')")
            }
            // A MatMul not followed by a bias Add is a dense layer without bias.
            if let pending = pendingMatMul, node.op != "Add" {
                try emitDense(pending.name, pending.kernel, nil, node)
                pendingMatMul = nil
            }
            let layer = layerName(node, &used)
            switch node.op {
            case "Conv":
                let k = try weight(node, 1)  // [Cout, Cin, KH, KW]
                guard (node.int("group") ?? 1) == 1 else { throw fail(node, "is a grouped convolution") }
                guard (node.ints("dilations") ?? [1, 1]).allSatisfy({ $0 == 1 }) else { throw fail(node, "is dilated") }
                let strides = node.ints("strides") ?? [1, 1]
                guard k.shape[2] == k.shape[3], strides[0] == strides[1], shape.count == 3 else { throw fail(node, "is not square") }
                let (cout, cin, kh, kw) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
                guard cin == shape[2] else { throw fail(node, "takes \(cin) channels after \(shape[2])") }
                var pads = (node.ints("pads") ?? [0, 0, 0, 0]).map { Int($0) }
                let stride = Int(strides[0])
                if let autoPad = node.string("auto_pad"), autoPad != "NOTSET" {
                    guard autoPad == "SAME_UPPER" || autoPad == "VALID" else { throw fail(node, "uses auto_pad \(autoPad)") }
                    let p = autoPad == "VALID" ? Padding2D.zero : Padding2D.same(height: shape[0], width: shape[1], kernel: kh, stride: stride)
                    pads = [p.top, p.left, p.bottom, p.right]
                }
                var hwio = [Float](repeating: 0, count: k.count)
                for o in 0..<cout { for i in 0..<cin { for y in 0..<kh { for x in 0..<kw {
                    hwio[((y * kw + x) * cin + i) * cout + o] = k.data[((o * cin + i) * kh + y) * kw + x]
                } } } }
                out["\(layer).kernel"] = Tensor(shape: [kh, kw, cin, cout], data: hwio)
                let bias = node.inputs.count > 2 && !node.inputs[2].isEmpty
                if bias { out["\(layer).bias"] = try weight(node, 2) }
                layers.append(.conv(layer, cout, kernel: kh, stride: stride,
                                    padding: .explicit(Padding2D(top: pads[0], bottom: pads[2], left: pads[1], right: pads[3])), bias: bias))
                shape = [(shape[0] + pads[0] + pads[2] - kh) / stride + 1, (shape[1] + pads[1] + pads[3] - kw) / stride + 1, cout]
            case "BatchNormalization":
                for (i, key) in [(1, "gamma"), (2, "beta"), (3, "moving_mean"), (4, "moving_variance")] { out["\(layer).\(key)"] = try weight(node, i) }
                layers.append(.batchNorm(layer, epsilon: Double(node.float("epsilon") ?? 1e-5)))
            case "Relu":
                layers.append(.relu(layer))
            case "MaxPool":
                let k = node.ints("kernel_shape") ?? [], s = node.ints("strides") ?? [1, 1]
                guard k.count == 2, k[0] == k[1], s[0] == s[1], (node.ints("pads") ?? [0, 0, 0, 0]).allSatisfy({ $0 == 0 }),
                      (node.int("ceil_mode") ?? 0) == 0, (node.ints("dilations") ?? [1, 1]).allSatisfy({ $0 == 1 }) else {
                    throw fail(node, "pads, dilates or rounds up, which the built-in max pool does not")
                }
                layers.append(.maxPool(layer, size: Int(k[0]), stride: Int(s[0])))
                shape = [(shape[0] - Int(k[0])) / Int(s[0]) + 1, (shape[1] - Int(k[0])) / Int(s[0]) + 1, shape[2]]
            case "GlobalAveragePool":
                layers.append(.globalAveragePool(layer))
                shape = [shape[2]]
            case "Transpose":
                guard node.ints("perm") == [0, 2, 3, 1], shape.count == 3 else { throw fail(node, "is not the NCHW-to-NHWC transpose before a flatten") }
                nhwcOrder = true
            case "Flatten", "Reshape", "Squeeze":
                if shape.count == 3 {
                    if shape[0] * shape[1] > 1 && !nhwcOrder { flattenedCHW = (shape[0], shape[1], shape[2]) }
                    layers.append(.flatten(layer))
                    shape = [shape.reduce(1, *)]
                }
            case "Dropout":
                layers.append(.dropout(layer, rate: 0.5))
            case "Gemm", "MatMul", "Add":
                if node.op == "Add" {
                    guard let pending = pendingMatMul else { throw fail(node, "is not a bias after a MatMul") }
                    pendingMatMul = nil
                    try emitDense(pending.name, pending.kernel, try weight(node, 1), node)
                    break
                }
                let b = try weight(node, 1)
                guard b.shape.count == 2 else { throw fail(node, "has a \(b.shape.count)-D weight") }
                let transB = node.op == "Gemm" && (node.int("transB") ?? 0) != 0
                guard node.op == "MatMul" || ((node.float("alpha") ?? 1) == 1 && (node.float("beta") ?? 1) == 1 && (node.int("transA") ?? 0) == 0) else {
                    throw fail(node, "scales or transposes its input")
                }
                var kernel = b
                if transB {
                    var t = [Float](repeating: 0, count: b.count)
                    for i in 0..<b.shape[0] { for j in 0..<b.shape[1] { t[j * b.shape[0] + i] = b.data[i * b.shape[1] + j] } }
                    kernel = Tensor(shape: [b.shape[1], b.shape[0]], data: t)
                }
                if node.op == "MatMul" {
                    pendingMatMul = (layer, kernel)  // a bias Add may follow
                } else {
                    try emitDense(layer, kernel, node.inputs.count > 2 && !node.inputs[2].isEmpty ? try weight(node, 2) : nil, node)
                }
            case "Sigmoid":
                // The output activation: built-in networks end in the logit.
                guard node.outputs.first == graph.outputName else { throw fail(node, "is a sigmoid inside the network") }
            case "Identity":
                break
            default:
                throw fail(node, "has no built-in layer")
            }
            current = node.outputs[0]
        }
        if let pending = pendingMatMul {
            try emitDense(pending.name, pending.kernel, nil, GraphNode(name: pending.name, op: "MatMul", inputs: [], outputs: [], attributes: [:]))
        }
        guard shape == [1] else { throw GraphError("the network ends in \(shape) values; training needs one logit") }
        return (ModelSpec(name: name, inputShape: [h0, w0, c0], layers: layers), out)
    }
}
