import Foundation

/// Reads an ONNX model (opset 11 or later) into a `GraphModel` and its float tensors.
///
/// Only what HistoScreen can run is accepted: the default operator domain, the operators and
/// attributes in `supported`, float32 activations, and tensors stored in the file. Anything
/// else is refused with an error naming the operator, the node and the file.
public enum ONNXImport {
    /// Operators and the attributes each may carry.
    public static let supported: [String: Set<String>] = [
        "Conv": ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"],
        "BatchNormalization": ["epsilon", "momentum", "training_mode", "spatial"],
        "Relu": [], "LeakyRelu": ["alpha"], "Clip": ["min", "max"], "Sigmoid": [], "HardSigmoid": ["alpha", "beta"],
        "HardSwish": [], "Mul": [], "Add": [], "Concat": ["axis"],
        "MaxPool": ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"],
        "AveragePool": ["auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides", "dilations"],
        "GlobalAveragePool": [], "Gemm": ["alpha", "beta", "transA", "transB"], "MatMul": [], "Flatten": ["axis"],
        "Reshape": ["allowzero"], "Pad": ["mode"], "Transpose": ["perm"],
        // Shape arithmetic, as converters write it around Reshape.
        "Shape": ["start", "end"], "Gather": ["axis"], "Slice": [], "Cast": ["to", "saturate"], "Unsqueeze": ["axes"], "Squeeze": ["axes"], "Softmax": ["axis"], "Dropout": ["seed", "ratio", "is_test"], "Identity": [],
    ]

    public static let minimumOpset = 11

    struct Tensor { var shape: [Int]; var floats: [Float]?; var ints: [Int64]? }

    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// Decodes `bytes`, read from `path` (named in errors). `inputSize` fixes a free spatial size.
    public static func read(_ bytes: [UInt8], path: String, inputSize: Int? = nil) throws(Failure) -> (graph: GraphModel, weights: [String: Neural.Tensor<Float>]) {
        func fail(_ problem: String) -> Failure { Failure(path: path, problem: problem) }
        let model: RawModel
        do {
            model = try ProtoReader.read(bytes) { (r: inout ProtoReader) throws(ProtoReader.Failure) -> RawModel in try RawModel(&r) }
        } catch {
            throw fail("is not a valid ONNX file: \(error.problem) at byte \(error.offset)")
        }
        guard let graph = model.graph else { throw fail("is not an ONNX model (no graph)") }
        guard let opset = model.opset else { throw fail("declares no opset for the default ONNX domain") }
        guard opset >= minimumOpset else {
            throw fail("uses opset \(opset); HistoScreen reads opset \(minimumOpset) and later (re-export with a newer opset_version)")
        }

        // Tensors: initializers, then Constant nodes.
        var tensors: [String: Tensor] = [:]
        for t in graph.initializers {
            tensors[t.name] = try tensor(t, path: path)
        }
        var nodes: [GraphNode] = []
        for (index, raw) in graph.nodes.enumerated() {
            let name = raw.name.isEmpty ? "\(raw.op)_\(index)" : raw.name
            func nodeFail(_ problem: String) -> Failure { fail("node '\(name)' (\(raw.op)): \(problem)") }
            guard raw.domain.isEmpty || raw.domain == "ai.onnx" else { throw nodeFail("operator domain '\(raw.domain)' is not supported") }
            if raw.op == "Constant" {
                guard raw.outputs.count == 1 else { throw nodeFail("a Constant has one output") }
                guard let attribute = raw.attributes.first, raw.attributes.count == 1 else { throw nodeFail("a Constant has one value attribute") }
                switch (attribute.name, attribute.value) {
                case let ("value", .tensor(t)): tensors[raw.outputs[0]] = try tensor(t, path: path, node: name)
                case let ("value_float", .float(v)): tensors[raw.outputs[0]] = Tensor(shape: [], floats: [v])
                case let ("value_floats", .floats(v)): tensors[raw.outputs[0]] = Tensor(shape: [v.count], floats: v)
                case let ("value_int", .int(v)): tensors[raw.outputs[0]] = Tensor(shape: [], ints: [v])
                case let ("value_ints", .ints(v)): tensors[raw.outputs[0]] = Tensor(shape: [v.count], ints: v)
                default: throw nodeFail("attribute '\(attribute.name)' is not supported")
                }
                continue
            }
            guard let allowed = supported[raw.op] else {
                throw nodeFail("operator \(raw.op) is not supported (HistoScreen runs \(supported.keys.sorted().joined(separator: ", ")))")
            }
            var attributes: [String: GraphAttribute] = [:]
            for a in raw.attributes {
                guard allowed.contains(a.name) else { throw nodeFail("attribute '\(a.name)' is not supported") }
                switch a.value {
                case let .int(v): attributes[a.name] = .int(v)
                case let .float(v): attributes[a.name] = .float(v)
                case let .ints(v): attributes[a.name] = .ints(v)
                case let .floats(v): attributes[a.name] = .floats(v)
                case let .string(v): attributes[a.name] = .string(v)
                case .tensor: throw nodeFail("attribute '\(a.name)' holds a tensor, which \(raw.op) does not take")
                }
            }
            nodes.append(GraphNode(name: name, op: raw.op, inputs: raw.inputs, outputs: raw.outputs, attributes: attributes))
        }

        nodes = try topologicallySorted(nodes, available: Set(tensors.keys).union(graph.inputs.map(\.name)), fail: fail)

        // One image input (graph inputs that are initializers are weights), one output.
        let inputs = graph.inputs.filter { tensors[$0.name] == nil }
        guard inputs.count == 1, let input = inputs.first else {
            throw fail("has \(inputs.count) inputs besides its weights; HistoScreen feeds one image batch")
        }
        guard input.elementType == 1 else { throw fail("input '\(input.name)' has element type \(input.elementType); HistoScreen feeds float32") }
        guard input.dims.count == 4 else { throw fail("input '\(input.name)' has \(input.dims.count) dimensions; an image batch is N × C × H × W") }
        guard input.dims[1] == 3 else { throw fail("input '\(input.name)' has \(input.dims[1].map(String.init) ?? "a free number of") channels; HistoScreen feeds RGB (3)") }
        var height = input.dims[2], width = input.dims[3]
        if let inputSize {
            if let h = height, h != inputSize { throw fail("input '\(input.name)' is fixed at \(h) px high; --input \(inputSize) does not match") }
            if let w = width, w != inputSize { throw fail("input '\(input.name)' is fixed at \(w) px wide; --input \(inputSize) does not match") }
            height = inputSize; width = inputSize
        }
        guard let h = height, let w = width else { throw fail("input '\(input.name)' has a free height or width; give its size with --input N") }
        guard (1...4096).contains(h), (1...4096).contains(w) else {
            throw fail("input '\(input.name)' is \(h) × \(w); HistoScreen runs images up to 4096 px")
        }
        guard graph.outputs.count == 1, let output = graph.outputs.first else {
            throw fail("has \(graph.outputs.count) outputs; HistoScreen reads one (class scores)")
        }

        var weights: [String: Neural.Tensor<Float>] = [:], initializerShapes: [String: [Int]] = [:]
        var constants: [String: GraphModel.IntegerTensor] = [:]
        let used = Set(nodes.flatMap(\.inputs))
        for (name, t) in tensors where used.contains(name) {
            if let floats = t.floats {
                guard floats.allSatisfy(\.isFinite) else { throw fail("tensor '\(name)' holds NaN or infinite values") }
                weights[name] = Neural.Tensor(shape: t.shape, data: floats)
                initializerShapes[name] = t.shape
            } else if let ints = t.ints {
                constants[name] = GraphModel.IntegerTensor(shape: t.shape, values: ints)
            }
        }
        let result = GraphModel(opset: opset, source: ((path as NSString).lastPathComponent) + (model.producer.isEmpty ? "" : " (\(model.producer))"),
                               inputName: input.name, inputShape: [3, h, w], outputName: output.name, nodes: nodes,
                               initializers: initializerShapes, integerConstants: constants)
        return (result, weights)
    }

    /// The nodes in an order where each runs after the nodes it reads (ONNX requires it; some
    /// writers do not keep it). A node reading a value nothing defines, or a cycle, is an error.
    static func topologicallySorted(_ nodes: [GraphNode], available: Set<String>, fail: (String) -> Failure) throws(Failure) -> [GraphNode] {
        var producer: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            for o in node.outputs where !o.isEmpty {
                guard producer[o] == nil else { throw fail("value '\(o)' is written by two nodes ('\(nodes[producer[o]!].name)' and '\(node.name)')") }
                producer[o] = i
            }
        }
        var order: [GraphNode] = [], state = [Int](repeating: 0, count: nodes.count)  // 0 new, 1 on the path, 2 done
        for start in nodes.indices where state[start] == 0 {
            var stack: [(Int, Int)] = [(start, 0)]
            state[start] = 1
            while let (i, next) = stack.last {
                let inputs = nodes[i].inputs.filter { !$0.isEmpty }
                if next < inputs.count {
                    stack[stack.count - 1].1 += 1
                    let name = inputs[next]
                    if let j = producer[name] {
                        if state[j] == 1 { throw fail("the graph has a cycle through node '\(nodes[j].name)'") }
                        if state[j] == 0 { state[j] = 1; stack.append((j, 0)) }
                    } else if !available.contains(name) {
                        throw fail("node '\(nodes[i].name)' (\(nodes[i].op)) reads '\(name)', which no node, input or weight defines")
                    }
                } else {
                    state[i] = 2
                    order.append(nodes[i])
                    stack.removeLast()
                }
            }
        }
        return order
    }

    /// A TensorProto's values as floats (FLOAT, DOUBLE, FLOAT16) or integers (INT64, INT32).
    static func tensor(_ t: RawTensor, path: String, node: String? = nil) throws(Failure) -> Tensor {
        let label = "tensor '\(t.name)'" + (node.map { " of node '\($0)'" } ?? "")
        func fail(_ problem: String) -> Failure { Failure(path: path, problem: "\(label): \(problem)") }
        guard !t.external else { throw fail("is stored outside the file (external data), which HistoScreen does not read") }
        guard t.dims.allSatisfy({ $0 >= 0 && $0 <= 1 << 30 }) else { throw fail("has dimensions \(t.dims)") }
        var count = 1
        for d in t.dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, product <= 1 << 28 else { throw fail("holds more than 2^28 values") }
            count = product
        }
        let shape = t.dims.map { Int($0) }
        func raw<V>(_ size: Int, _ convert: (UnsafeRawBufferPointer, Int) -> V) throws(Failure) -> [V] {
            guard t.raw.count == count * size else { throw fail("raw data of \(t.raw.count) bytes for \(count) values of \(size) bytes") }
            return t.raw.withUnsafeBytes { p in (0..<count).map { convert(p, $0 * size) } }
        }
        switch t.dataType {
        case 1:  // FLOAT
            if !t.raw.isEmpty { return Tensor(shape: shape, floats: try raw(4) { Float(bitPattern: $0.loadUnaligned(fromByteOffset: $1, as: UInt32.self).littleEndian) }) }
            guard t.floatData.count == count else { throw fail("\(t.floatData.count) values for shape \(shape)") }
            return Tensor(shape: shape, floats: t.floatData)
        case 11:  // DOUBLE
            if !t.raw.isEmpty { return Tensor(shape: shape, floats: try raw(8) { Float(Double(bitPattern: $0.loadUnaligned(fromByteOffset: $1, as: UInt64.self).littleEndian)) }) }
            guard t.doubleData.count == count else { throw fail("\(t.doubleData.count) values for shape \(shape)") }
            return Tensor(shape: shape, floats: t.doubleData.map { Float($0) })
        case 10:  // FLOAT16
            if !t.raw.isEmpty { return Tensor(shape: shape, floats: try raw(2) { Float(Float16(bitPattern: $0.loadUnaligned(fromByteOffset: $1, as: UInt16.self).littleEndian)) }) }
            guard t.int32Data.count == count else { throw fail("\(t.int32Data.count) values for shape \(shape)") }
            return Tensor(shape: shape, floats: t.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) })
        case 7:  // INT64
            if !t.raw.isEmpty { return Tensor(shape: shape, ints: try raw(8) { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int64.self)) }) }
            guard t.int64Data.count == count else { throw fail("\(t.int64Data.count) values for shape \(shape)") }
            return Tensor(shape: shape, ints: t.int64Data)
        case 6:  // INT32
            if !t.raw.isEmpty { return Tensor(shape: shape, ints: try raw(4) { Int64(Int32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int32.self))) }) }
            guard t.int32Data.count == count else { throw fail("\(t.int32Data.count) values for shape \(shape)") }
            return Tensor(shape: shape, ints: t.int32Data)
        default:
            throw fail("has data type \(t.dataType) (\(dataTypeName(t.dataType))); HistoScreen reads float32, float64, float16, int64 and int32")
        }
    }

    /// TensorProto.DataType names, by value.
    static let dataTypeNames = ["UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL", "FLOAT16",
                                "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"]

    static func dataTypeName(_ t: Int) -> String { dataTypeNames.indices.contains(t) ? dataTypeNames[t] : "unknown" }
}

// MARK: The ONNX messages, as read from the wire (onnx.proto field numbers).

struct RawModel {
    var graph: RawGraph?
    var opset: Int?
    var producer = ""
    init(_ r: inout ProtoReader) throws(ProtoReader.Failure) {
        while let (field, wire) = try r.field() {
            switch (field, wire) {
            case (2, .lengthDelimited): producer = try r.string()
            case (7, .lengthDelimited): var m = try r.message(); graph = try RawGraph(&m)
            case (8, .lengthDelimited):
                var m = try r.message()
                var domain = "", version: Int64 = 0
                while let (f, w) = try m.field() {
                    switch (f, w) {
                    case (1, .lengthDelimited): domain = try m.string()
                    case (2, .varint): version = Int64(bitPattern: try m.varint())
                    default: try m.skip(w)
                    }
                }
                if domain.isEmpty || domain == "ai.onnx" { opset = Int(clamping: version) }
            default: try r.skip(wire)
            }
        }
    }
}

struct RawGraph {
    var nodes: [RawNode] = []
    var initializers: [RawTensor] = []
    var inputs: [RawValueInfo] = []
    var outputs: [RawValueInfo] = []
    init(_ r: inout ProtoReader) throws(ProtoReader.Failure) {
        while let (field, wire) = try r.field() {
            switch (field, wire) {
            case (1, .lengthDelimited): var m = try r.message(); nodes.append(try RawNode(&m))
            case (5, .lengthDelimited): var m = try r.message(); initializers.append(try RawTensor(&m))
            case (11, .lengthDelimited): var m = try r.message(); inputs.append(try RawValueInfo(&m))
            case (12, .lengthDelimited): var m = try r.message(); outputs.append(try RawValueInfo(&m))
            default: try r.skip(wire)
            }
            guard nodes.count <= 100_000, initializers.count <= 100_000 else { throw r.fail("more than 100,000 nodes or tensors") }
        }
    }
}

struct RawNode {
    var inputs: [String] = [], outputs: [String] = []
    var name = "", op = "", domain = ""
    var attributes: [RawAttribute] = []
    init(_ r: inout ProtoReader) throws(ProtoReader.Failure) {
        while let (field, wire) = try r.field() {
            switch (field, wire) {
            case (1, .lengthDelimited): inputs.append(try r.string())
            case (2, .lengthDelimited): outputs.append(try r.string())
            case (3, .lengthDelimited): name = try r.string()
            case (4, .lengthDelimited): op = try r.string()
            case (7, .lengthDelimited): domain = try r.string()
            case (5, .lengthDelimited): var m = try r.message(); attributes.append(try RawAttribute(&m))
            default: try r.skip(wire)
            }
        }
    }
}

struct RawAttribute {
    enum Value { case int(Int64), float(Float), ints([Int64]), floats([Float]), string(String), tensor(RawTensor) }
    var name = ""
    var value: Value
    init(_ r: inout ProtoReader) throws(ProtoReader.Failure) {
        var type: UInt64 = 0
        var f: Float?, i: Int64?, s: [UInt8]?, t: RawTensor?
        var floats: [Float] = [], ints: [Int64] = []
        while let (field, wire) = try r.field() {
            switch (field, wire) {
            case (1, .lengthDelimited): name = try r.string()
            case (2, .fixed32): f = Float(bitPattern: try r.fixed32())
            case (3, .varint): i = Int64(bitPattern: try r.varint())
            case (4, .lengthDelimited): s = try r.data()
            case (5, .lengthDelimited): var m = try r.message(); t = try RawTensor(&m)
            case (7, _): try r.floats(wire, into: &floats)
            case (8, _): try r.int64s(wire, into: &ints)
            case (20, .varint): type = try r.varint()
            default: try r.skip(wire)
            }
            guard floats.count <= 1 << 20, ints.count <= 1 << 20 else { throw r.fail("an attribute with more than 2^20 values") }
        }
        // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
        switch type {
        case 1: value = .float(f ?? 0)
        case 2: value = .int(i ?? 0)
        case 3:
            guard let s, let text = String(bytes: s, encoding: .utf8) else { throw r.fail("attribute '\(name)' is not a UTF-8 string") }
            value = .string(text)
        case 4:
            guard let t else { throw r.fail("attribute '\(name)' has no tensor") }
            value = .tensor(t)
        case 6: value = .floats(floats)
        case 7: value = .ints(ints)
        default: throw r.fail("attribute '\(name)' has type \(type), which HistoScreen does not read")
        }
    }
}

struct RawTensor {
    var dims: [Int64] = []
    var dataType = 0
    var floatData: [Float] = [], int32Data: [Int64] = [], int64Data: [Int64] = []
    var doubleData: [Double] = []
    var name = ""
    var raw: [UInt8] = []
    var external = false
    init(_ r: inout ProtoReader) throws(ProtoReader.Failure) {
        while let (field, wire) = try r.field() {
            switch (field, wire) {
            case (1, _): try r.int64s(wire, into: &dims)
            case (2, .varint): dataType = Int(clamping: Int64(bitPattern: try r.varint()))
            case (4, _): try r.floats(wire, into: &floatData)
            case (5, _): try r.int64s(wire, into: &int32Data)
            case (7, _): try r.int64s(wire, into: &int64Data)
            case (8, .lengthDelimited): name = try r.string()
            case (9, .lengthDelimited): raw = try r.data()
            case (10, .lengthDelimited):
                var m = try r.message()
                while !m.isAtEnd { doubleData.append(Double(bitPattern: try m.fixed64())) }
            case (10, .fixed64): doubleData.append(Double(bitPattern: try r.fixed64()))
            case (13, .lengthDelimited): external = true; try r.skip(wire)
            case (14, .varint): if try r.varint() == 1 { external = true }
            default: try r.skip(wire)
            }
            guard dims.count <= 16 else { throw r.fail("a tensor with more than 16 dimensions") }
        }
    }
}

struct RawValueInfo {
    var name = ""
    var elementType = 0
    /// Dimensions; nil where symbolic or absent.
    var dims: [Int?] = []
    init(_ r: inout ProtoReader) throws(ProtoReader.Failure) {
        while let (field, wire) = try r.field() {
            switch (field, wire) {
            case (1, .lengthDelimited): name = try r.string()
            case (2, .lengthDelimited):
                var type = try r.message()  // TypeProto
                while let (f, w) = try type.field() {
                    guard f == 1, w == .lengthDelimited else { try type.skip(w); continue }
                    var tensor = try type.message()  // TypeProto.Tensor
                    while let (tf, tw) = try tensor.field() {
                        switch (tf, tw) {
                        case (1, .varint): elementType = Int(clamping: Int64(bitPattern: try tensor.varint()))
                        case (2, .lengthDelimited):
                            var shape = try tensor.message()
                            while let (sf, sw) = try shape.field() {
                                guard sf == 1, sw == .lengthDelimited else { try shape.skip(sw); continue }
                                var dim = try shape.message()
                                var value: Int?
                                while let (df, dw) = try dim.field() {
                                    if df == 1, dw == .varint { let v = Int64(bitPattern: try dim.varint()); value = v > 0 && v <= 1 << 30 ? Int(v) : nil } else { try dim.skip(dw) }
                                }
                                dims.append(value)
                                guard dims.count <= 16 else { throw shape.fail("a shape with more than 16 dimensions") }
                            }
                        default: try tensor.skip(tw)
                        }
                    }
                }
            default: try r.skip(wire)
            }
        }
    }
}
