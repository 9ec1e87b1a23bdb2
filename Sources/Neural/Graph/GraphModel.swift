import Foundation

/// A network as a graph of ONNX operators, kept as data in model.json: the nodes in
/// topological order with their named inputs, outputs and attributes. Float tensors
/// (weights) live in weights.safetensors under their ONNX names; integer tensors (shapes for
/// Reshape) are kept inline. Activations are NCHW, as in ONNX.
public struct GraphModel: Sendable, Codable, Equatable {
    public static let currentFormatVersion = 1

    public var formatVersion = GraphModel.currentFormatVersion
    /// The default-domain opset the graph was written for.
    public var opset: Int
    /// Where it came from (file name, producer).
    public var source: String
    public var inputName: String
    /// Channels, height, width of one input image (the batch dimension is free).
    public var inputShape: [Int]
    public var outputName: String
    public var nodes: [GraphNode]
    /// Shapes of the float tensors in weights.safetensors.
    public var initializers: [String: [Int]]
    /// Integer tensors (Reshape shapes and the like), inline: shape and values.
    public var integerConstants: [String: IntegerTensor]

    public struct IntegerTensor: Sendable, Codable, Equatable {
        public var shape: [Int]
        public var values: [Int64]
    }
}

extension GraphModel {
    /// A dense kernel [in, out] whose rows follow a flattened h × w × c map, with the rows
    /// reordered between ONNX's Flatten order (c, h, w) and the built-in Flatten's (h, w, c):
    /// to (h, w, c) when `toHWC`, else to (c, h, w).
    static func reorderedFlattenRows(_ kernel: Tensor<Float>, h: Int, w: Int, c: Int, toHWC: Bool) -> Tensor<Float> {
        let units = kernel.shape[1]
        var out = kernel
        for y in 0..<h { for x in 0..<w { for ch in 0..<c {
            let hwc = (y * w + x) * c + ch, chw = (ch * h + y) * w + x
            let (to, from) = toHWC ? (hwc, chw) : (chw, hwc)
            for u in 0..<units { out.data[to * units + u] = kernel.data[from * units + u] }
        } } }
        return out
    }
}

public struct GraphNode: Sendable, Codable, Equatable {
    public var name: String
    public var op: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: GraphAttribute]

    public func int(_ key: String) -> Int64? { if case let .int(v)? = attributes[key] { v } else { nil } }
    public func float(_ key: String) -> Float? { if case let .float(v)? = attributes[key] { v } else { nil } }
    public func ints(_ key: String) -> [Int64]? { if case let .ints(v)? = attributes[key] { v } else { nil } }
    public func string(_ key: String) -> String? { if case let .string(v)? = attributes[key] { v } else { nil } }
}

/// An ONNX attribute value. In JSON: `{"i": 3}`, `{"f": 0.5}`, `{"ints": [1, 1]}`,
/// `{"floats": [0.1]}` or `{"s": "SAME_UPPER"}`.
public enum GraphAttribute: Sendable, Equatable, Codable {
    case int(Int64), float(Float), ints([Int64]), floats([Float]), string(String)

    enum Key: String, CodingKey { case i, f, ints, floats, s }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        guard c.allKeys.count == 1, let key = c.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "an attribute has exactly one of i, f, ints, floats, s"))
        }
        switch key {
        case .i: self = .int(try c.decode(Int64.self, forKey: .i))
        case .f: self = .float(try c.decode(Float.self, forKey: .f))
        case .ints: self = .ints(try c.decode([Int64].self, forKey: .ints))
        case .floats: self = .floats(try c.decode([Float].self, forKey: .floats))
        case .s: self = .string(try c.decode(String.self, forKey: .s))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case let .int(v): try c.encode(v, forKey: .i)
        case let .float(v): try c.encode(v, forKey: .f)
        case let .ints(v): try c.encode(v, forKey: .ints)
        case let .floats(v): try c.encode(v, forKey: .floats)
        case let .string(v): try c.encode(v, forKey: .s)
        }
    }
}
