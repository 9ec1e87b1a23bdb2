/// A network described by data: the `architecture` of a model bundle's model.json.
///
/// Layers run in order on NHWC tensors; the last layer must produce one logit per sample
/// (the sigmoid is applied by the caller).
public struct ModelSpec: Sendable, Equatable, Codable {
    public var name: String
    /// Per-sample input shape `[H, W, C]`.
    public var inputShape: [Int]
    public var layers: [LayerSpec]

    public init(name: String, inputShape: [Int], layers: [LayerSpec]) {
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
    }
}

/// One layer of a `ModelSpec`. Fields beyond `type` and `name` apply to some types only.
public struct LayerSpec: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case conv2d, batchnorm, relu, maxpool, globalAveragePool, flatten, dense, dropout, residual
    }

    /// Padding of a convolution: "same", "valid", or explicit `[top, bottom, left, right]`.
    public enum PaddingSpec: Sendable, Equatable, Codable {
        case same, valid
        case explicit(Padding2D)

        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let word = try? container.decode(String.self) {
                switch word {
                case "same": self = .same
                case "valid": self = .valid
                default:
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "padding '\(word)' is not same, valid or [t, b, l, r]")
                }
            } else {
                let v = try container.decode([Int].self)
                guard v.count == 4, v.allSatisfy({ $0 >= 0 }) else {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "explicit padding needs 4 non-negative values")
                }
                self = .explicit(Padding2D(top: v[0], bottom: v[1], left: v[2], right: v[3]))
            }
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .same: try container.encode("same")
            case .valid: try container.encode("valid")
            case let .explicit(p): try container.encode([p.top, p.bottom, p.left, p.right])
            }
        }
    }

    public var type: Kind
    public var name: String
    /// conv2d: output channels. dense: output features.
    public var units: Int?
    /// conv2d: square kernel size. maxpool: window size.
    public var kernel: Int?
    /// conv2d, maxpool.
    public var stride: Int?
    /// conv2d.
    public var padding: PaddingSpec?
    /// conv2d, dense (default true).
    public var bias: Bool?
    /// batchnorm (defaults 1e-3 and 0.99, as Keras).
    public var epsilon: Double?
    public var momentum: Double?
    /// dropout.
    public var rate: Double?
    /// residual: the branch, whose output is added to the shortcut's.
    public var layers: [LayerSpec]?
    /// residual: the shortcut's layers (e.g. a 1×1 convolution and batch norm where the branch
    /// changes the channel count); the input itself when nil or empty.
    public var shortcut: [LayerSpec]?

    public init(type: Kind, name: String, units: Int? = nil, kernel: Int? = nil, stride: Int? = nil,
                padding: PaddingSpec? = nil, bias: Bool? = nil, epsilon: Double? = nil, momentum: Double? = nil,
                rate: Double? = nil, layers: [LayerSpec]? = nil, shortcut: [LayerSpec]? = nil) {
        self.type = type; self.name = name; self.units = units; self.kernel = kernel; self.stride = stride
        self.padding = padding; self.bias = bias; self.epsilon = epsilon; self.momentum = momentum; self.rate = rate
        self.layers = layers; self.shortcut = shortcut
    }

    public static func conv(_ name: String, _ filters: Int, kernel: Int = 3, stride: Int = 1,
                            padding: PaddingSpec = .same, bias: Bool = true) -> LayerSpec {
        LayerSpec(type: .conv2d, name: name, units: filters, kernel: kernel, stride: stride, padding: padding, bias: bias)
    }
    public static func batchNorm(_ name: String, epsilon: Double = 1e-3, momentum: Double = 0.99) -> LayerSpec {
        LayerSpec(type: .batchnorm, name: name, epsilon: epsilon, momentum: momentum)
    }
    public static func relu(_ name: String) -> LayerSpec { LayerSpec(type: .relu, name: name) }
    public static func maxPool(_ name: String, size: Int = 2, stride: Int = 2) -> LayerSpec {
        LayerSpec(type: .maxpool, name: name, kernel: size, stride: stride)
    }
    public static func globalAveragePool(_ name: String) -> LayerSpec { LayerSpec(type: .globalAveragePool, name: name) }
    public static func flatten(_ name: String) -> LayerSpec { LayerSpec(type: .flatten, name: name) }
    public static func dense(_ name: String, _ units: Int, bias: Bool = true) -> LayerSpec {
        LayerSpec(type: .dense, name: name, units: units, bias: bias)
    }
    public static func dropout(_ name: String, rate: Double) -> LayerSpec { LayerSpec(type: .dropout, name: name, rate: rate) }
    /// `branch(x) + shortcut(x)`; put a ReLU after it for a ResNet block.
    public static func residual(_ name: String, _ branch: [LayerSpec], shortcut: [LayerSpec]? = nil) -> LayerSpec {
        LayerSpec(type: .residual, name: name, layers: branch, shortcut: shortcut)
    }
}

extension ModelSpec {
    /// The architectures HistoScreen knows by name.
    public static let builtinNames = ["compact", "compact-slim", "resnet-slim", "vgg16"]

    public static func builtin(_ name: String) -> ModelSpec? {
        switch name {
        case "compact": compact()
        case "compact-slim": compact(widths: [32, 32, 64, 128], name: "compact-slim")
        case "resnet-slim": resnetSlim()
        case "vgg16": vgg16()
        default: nil
        }
    }

    /// Keras VGG16's convolutional base at 96×96×3 (13 convolutions in 5 blocks, Keras layer
    /// names; 14,714,688 parameters), then Flatten, Dense(256, ReLU), Dropout and Dense(1):
    /// 15,894,849 parameters, as in the seed project.
    public static func vgg16(inputSize: Int = 96, dropout: Double = 0.5) -> ModelSpec {
        var layers: [LayerSpec] = []
        for (block, (width, convs)) in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)].enumerated() {
            for i in 1...convs {
                layers.append(.conv("block\(block + 1)_conv\(i)", width))
                layers.append(.relu("block\(block + 1)_relu\(i)"))
            }
            layers.append(.maxPool("block\(block + 1)_pool"))
        }
        layers += [.flatten("flatten"), .dense("dense", 256), .relu("dense_relu"), .dropout("dropout", rate: dropout),
                   .dense("logit", 1)]
        return ModelSpec(name: "vgg16", inputShape: [inputSize, inputSize, 3], layers: layers)
    }

    /// A small ResNet (He et al. 2016) near compact-slim's cost: 0.49 GFLOP per patch (compact-slim
    /// 0.40), 695,457 trainable parameters.
    ///
    /// A 3×3 stem with 32 channels and a 2×2 max-pool (96 → 48 pixels), then three stages of
    /// two basic blocks, [conv3×3 → BN → ReLU → conv3×3 → BN] + shortcut → ReLU, with 32, 64
    /// and 128 channels at 48, 24 and 12 pixels (max-pools between them; the first block of a
    /// wider stage has a 1×1 conv + BN shortcut), then global average pooling and Dense(1):
    /// 14 convolutions deep, where compact-slim has 8.
    public static func resnetSlim(inputSize: Int = 96) -> ModelSpec {
        func convBN(_ name: String, _ width: Int, kernel: Int = 3) -> [LayerSpec] {
            [.conv("\(name)_conv", width, kernel: kernel, bias: false), .batchNorm("\(name)_bn", momentum: 0.9)]
        }
        var layers = convBN("stem", 32) + [.relu("stem_relu"), .maxPool("stem_pool")]
        var channels = 32
        for (stage, width) in [32, 64, 128].enumerated() {
            if stage > 0 { layers.append(.maxPool("stage\(stage + 1)_pool")) }
            for block in 1...2 {
                let name = "stage\(stage + 1)_block\(block)"
                let branch = convBN("\(name)a", width) + [.relu("\(name)a_relu")] + convBN("\(name)b", width)
                layers.append(.residual(name, branch, shortcut: width == channels ? nil : convBN("\(name)_shortcut", width, kernel: 1)))
                layers.append(.relu("\(name)_relu"))
                channels = width
            }
        }
        layers += [.globalAveragePool("gap"), .dense("logit", 1)]
        return ModelSpec(name: "resnet-slim", inputShape: [inputSize, inputSize, 3], layers: layers)
    }

    /// `compact-slim` is the same with 32, 32, 64 and 128 channels: 0.40 GFLOP per patch, for
    /// comparing accuracy per second.
    ///
    /// Four blocks of [conv3×3 (no bias) → BatchNorm → ReLU] × 2 → max-pool 2×2, with 32,
    /// 64, 128 and 256 channels, then global average pooling and Dense(256 → 1):
    /// 0.95 GFLOP per 96×96 patch, 1,173,473 trainable parameters.
    public static func compact(inputSize: Int = 96, widths: [Int] = [32, 64, 128, 256], name: String = "compact") -> ModelSpec {
        var layers: [LayerSpec] = []
        for (block, width) in widths.enumerated() {
            for i in 1...2 {
                let prefix = "block\(block + 1)"
                layers.append(.conv("\(prefix)_conv\(i)", width, bias: false))
                // Momentum 0.9 (PyTorch's 0.1): running statistics settle within an epoch of a
                // short training run, where Keras's default 0.99 lags for hundreds of steps.
                layers.append(.batchNorm("\(prefix)_bn\(i)", momentum: 0.9))
                layers.append(.relu("\(prefix)_relu\(i)"))
            }
            layers.append(.maxPool("block\(block + 1)_pool"))
        }
        layers += [.globalAveragePool("gap"), .dense("logit", 1)]
        return ModelSpec(name: name, inputShape: [inputSize, inputSize, 3], layers: layers)
    }
}
