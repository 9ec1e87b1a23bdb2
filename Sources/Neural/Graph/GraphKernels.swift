import CKernels
import Foundation

/// How one convolution of a graph runs on the kernel layer, chosen at load from its shape.
struct ConvPlan {
    enum Kernel {
        /// Winograd F(2×2, 3×3) (`winograd_forward`): 3×3, stride 1, 'same', on an even-sized
        /// input with a multiple of 16 channels.
        case winograd
        /// `conv_forward`: any window, stride and dilation, read in place from a padded copy.
        case direct
        /// `gemm_forward` on the input itself (1×1, stride 1, no padding) or on hs_im2col's rows
        /// (images narrower than the register tile, where direct tiles would be short).
        case gemm
        /// `depthwise_conv`: one kernel per channel.
        case depthwise
    }

    var kernel: Kernel
    /// Packed (hs_conv_pack), transformed (hs_winograd_pack), or [kh][kw][c] for depthwise.
    var weights: [Float]
    /// `paddedChannels` biases.
    var bias: [Float]
    var relu: Bool
    /// The input [c, h, w] for one image, and the output channels.
    var input: [Int]
    var outputChannels: Int
    /// The output channels the kernel computes: rounded up to a multiple of HS_CONV_BLOCK with
    /// zero weights (MobileNet's 24 or 144), the extra ones dropped after; the same for depthwise.
    var paddedChannels: Int
    var window: hs_window
}

extension GraphEngine {
    // MARK: Layouts

    /// The value in ONNX's order (NCHW for images).
    func canonical(_ v: Value) -> Value {
        guard v.channelsLast, v.shape.count == 4 else { return Value(shape: v.shape, data: v.data) }
        let (n, c, hw) = (v.shape[0], v.shape[1], v.shape[2] * v.shape[3])
        guard c > 1 && hw > 1 else { return Value(shape: v.shape, data: v.data) }
        return Value(shape: v.shape, data: Self.transposed(v.data, n: n, rows: hw, columns: c))
    }

    /// A 4-D value with its data channels-last (NHWC).
    func channelsLast(_ v: Value) -> Value {
        guard !v.channelsLast, v.shape.count == 4 else { return v }
        let (n, c, hw) = (v.shape[0], v.shape[1], v.shape[2] * v.shape[3])
        guard c > 1 && hw > 1 else { return Value(shape: v.shape, data: v.data, channelsLast: true) }
        return Value(shape: v.shape, data: Self.transposed(v.data, n: n, rows: c, columns: hw), channelsLast: true)
    }

    static func transposed(_ x: [Float], n: Int, rows: Int, columns: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: x.count) { out, count in
            hs_transpose(x, Int32(n), Int32(rows), Int32(columns), out.baseAddress!)
            count = x.count
        }
    }

    /// `count` floats for a kernel to fill.
    static func uninitialized(_ count: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, written in
            if count > 0 { fill(out.baseAddress!) }
            written = count
        }
    }

    // MARK: Convolutions

    /// The plan for a convolution with this input [c, h, w] for one image (its shape already
    /// checked), or nil when no kernel here runs it (grouped, not depthwise) or its weights are
    /// computed by the graph rather than stored.
    func makePlan(_ node: GraphNode, input: [Int], geometry g: Geometry) -> ConvPlan? {
        guard let kernel = weights[node.inputs[1]], kernel.shape.count == 4 else { return nil }
        let (c, h, w) = (input[0], input[1], input[2])
        let m = kernel.shape[0], kh = kernel.shape[2], kw = kernel.shape[3], taps = kh * kw
        let groups = Int(clamping: node.int("group") ?? 1)
        let window = hs_window(kh: Int32(kh), kw: Int32(kw), sh: Int32(g.sh), sw: Int32(g.sw), dh: Int32(g.dh), dw: Int32(g.dw),
                               pt: Int32(g.pt), pl: Int32(g.pl), oh: Int32(g.oh), ow: Int32(g.ow), pad_end_y: 0, pad_end_x: 0)
        let block = Int(HS_CONV_BLOCK), mp = groups == 1 ? (m + block - 1) / block * block : m
        var bias = [Float](repeating: 0, count: mp)
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            guard let b = weights[node.inputs[2]], b.count == m else { return nil }
            bias.replaceSubrange(0..<m, with: b.data)
        }
        func plan(_ k: ConvPlan.Kernel, _ weights: [Float]) -> ConvPlan {
            ConvPlan(kernel: k, weights: weights, bias: bias, relu: fusedRelu.contains(node.name), input: input, outputChannels: m,
                     paddedChannels: mp, window: window)
        }
        if groups == 1 && kernel.shape[1] == c {
            // OIHW -> HWIO: [m][c·taps] transposed to [c][taps][m], then rows of m regrouped by
            // tap into rows of mp (zeros beyond m).
            let cti = Self.transposed(kernel.data, n: 1, rows: m, columns: c * taps)
            var hwio = [Float](repeating: 0, count: taps * c * mp)
            hwio.withUnsafeMutableBufferPointer { out in cti.withUnsafeBufferPointer { src in
                for i in 0..<c { for t in 0..<taps { (out.baseAddress! + (t * c + i) * mp).update(from: src.baseAddress! + (i * taps + t) * m, count: m) } }
            } }
            let same3x3 = kh == 3 && kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.pt == 1 && g.pl == 1
                && g.oh == h && g.ow == w
            if same3x3 && KernelSet.winograd && KernelSet.winogradFits(h: h, w: w, inputChannels: c) {
                return plan(.winograd, Self.uninitialized(16 * c * mp) { hs_winograd_pack(hwio, Int32(c), Int32(mp), $0) })
            }
            let packed = Self.uninitialized(hwio.count) { hs_conv_pack(hwio, Int32(taps), Int32(c), Int32(mp), $0) }
            let pointwise = kh == 1 && kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == h && g.ow == w
            return plan(pointwise || g.ow < kernels.tile.rows ? .gemm : .direct, packed)
        }
        if groups == c && m == c && kernel.shape[1] == 1 {
            // [c][1][kh][kw] -> [kh][kw][c]
            return plan(.depthwise, Self.transposed(kernel.data, n: 1, rows: c, columns: taps))
        }
        return nil
    }

    /// Runs a planned convolution channels-last; the output is channels-last.
    func convChannelsLast(_ node: GraphNode, _ plan: ConvPlan, _ held: Value) throws(GraphError) -> Value {
        let x = channelsLast(held)
        guard x.shape.count == 4, Array(x.shape.dropFirst()) == plan.input else {
            throw GraphError("input \(x.shape) differs from the \(plan.input) it was planned for")
        }
        let n = x.shape[0], (c, h, w) = (plan.input[0], plan.input[1], plan.input[2])
        let g = plan.window, m = plan.outputChannels, mp = plan.paddedChannels
        let (oh, ow) = (Int(g.oh), Int(g.ow)), (kh, kw) = (Int(g.kh), Int(g.kw))
        let (sh, sw, dh, dw, pt, pl) = (Int(g.sh), Int(g.sw), Int(g.dh), Int(g.dw), Int(g.pt), Int(g.pl))
        let rows = n * oh * ow
        guard rows * max(m, kh * kw * c) <= 1 << 28 else { throw GraphError("the output would hold more than 2^28 values") }
        let k = kernels
        // Padded output channels go to a scratch buffer first, then are dropped row by row.
        var spare = mp == m ? [] : [Float](unsafeUninitializedCapacity: rows * mp) { _, k in k = rows * mp }
        let out = Self.uninitialized(rows * m) { result in spare.withUnsafeMutableBufferPointer { spareBuffer in
            let out = mp == m ? result : spareBuffer.baseAddress!
            defer {
                if mp != m { for r in 0..<rows { (result + r * m).update(from: out + r * mp, count: m) } }
            }
            x.data.withUnsafeBufferPointer { xb in plan.weights.withUnsafeBufferPointer { wb in plan.bias.withUnsafeBufferPointer { bb in
                let x = xb.baseAddress!, weights = wb.baseAddress!, bias = bb.baseAddress!
                /// The rows a GEMM reads: the input itself for a pointwise convolution, else im2col's.
                func gemmRows(_ body: (UnsafePointer<Float>, Int) -> Void) {
                    if kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w { body(x, c); return }
                    var cols = [Float](unsafeUninitializedCapacity: rows * kh * kw * c) { _, n in n = rows * kh * kw * c }
                    cols.withUnsafeMutableBufferPointer { col in
                        var g = g
                        hs_im2col(x, Int32(n), Int32(h), Int32(w), Int32(c), &g, col.baseAddress!)
                        body(col.baseAddress!, kh * kw * c)
                    }
                }
                switch plan.kernel {
                case .winograd:
                    var padded = [Float](unsafeUninitializedCapacity: n * (h + 2) * (w + 2) * c) { _, k in k = n * (h + 2) * (w + 2) * c }
                    var scratch = [Float](unsafeUninitializedCapacity: hs_winograd_scratch_floats(Int32(c), Int32(mp))) { _, k in
                        k = hs_winograd_scratch_floats(Int32(c), Int32(mp))
                    }
                    padded.withUnsafeMutableBufferPointer { p in scratch.withUnsafeMutableBufferPointer { s in
                        hs_pad1(x, Int32(n), Int32(h), Int32(w), Int32(c), p.baseAddress!)
                        k.winogradForward(p.baseAddress!, n: n, h: h, w: w, cin: c, transformed: weights, bias: bias, cout: mp,
                                          relu: plan.relu, out: out, outPadded: false, scratch: s.baseAddress!)
                    } }
                case .direct:
                    let ph = (oh - 1) * sh + (kh - 1) * dh + 1, pw = (ow - 1) * sw + (kw - 1) * dw + 1
                    if pt == 0 && pl == 0 && ph == h && pw == w {
                        k.convForward(x, ph: ph, pw: pw, cin: c, window: g, packed: weights, bias: bias, cout: mp, relu: plan.relu,
                                      out: out, rows: 0..<(n * oh))
                    } else {
                        var padded = [Float](unsafeUninitializedCapacity: n * ph * pw * c) { _, k in k = n * ph * pw * c }
                        padded.withUnsafeMutableBufferPointer { p in
                            hs_pad(x, Int32(n), Int32(h), Int32(w), Int32(c), Int32(pt), Int32(pl), Int32(ph), Int32(pw), p.baseAddress!)
                            k.convForward(p.baseAddress!, ph: ph, pw: pw, cin: c, window: g, packed: weights, bias: bias, cout: mp,
                                          relu: plan.relu, out: out, rows: 0..<(n * oh))
                        }
                    }
                case .gemm:
                    gemmRows { a, depth in
                        k.gemmForward(a, m: rows, k: depth, packed: weights, bias: bias, cout: mp, relu: plan.relu, out: out)
                    }
                case .depthwise:
                    k.depthwiseConv(x, n: n, h: h, w: w, c: c, window: g, kernel: weights, bias: bias, relu: plan.relu, y: out)
                }
            } } }
        } }
        return Value(shape: [n, m, oh, ow], data: out, channelsLast: true)
    }

    // MARK: Other operators, channels-last

    func batchNormChannelsLast(_ node: GraphNode, _ x: Value, _ scale: Value, _ shift: Value, _ mean: Value,
                               _ variance: Value) throws(GraphError) -> Value {
        let c = x.shape[1]
        guard [scale, shift, mean, variance].allSatisfy({ $0.data.count == c }) else { throw GraphError("parameters do not have \(c) channels") }
        let epsilon = node.float("epsilon") ?? 1e-5
        let s = (0..<c).map { scale.data[$0] / (variance.data[$0] + epsilon).squareRoot() }
        let b = (0..<c).map { shift.data[$0] - mean.data[$0] * s[$0] }
        var out = x
        out.data.withUnsafeMutableBufferPointer { kernels.affineReLU($0.baseAddress!, rows: $0.count / max(1, c), c: c, scale: s, shift: b, relu: false, y: $0.baseAddress!) }
        return out
    }

    /// Add or Mul (then ReLU when fused) where a kernel or a channels-last loop applies: equal
    /// shapes in any one layout, or a channels-last image with a per-channel (or per-image and
    /// channel) operand, as in squeeze-and-excitation. Nil where it does not.
    func binaryChannelsLast(_ node: GraphNode, _ a: Value, _ b: Value, relu: Bool) throws(GraphError) -> Value? {
        let add = node.op == "Add"
        if a.shape == b.shape {
            let layoutLast = a.shape.count == 4 && (a.channelsLast || b.channelsLast)
            let x = layoutLast ? channelsLast(a) : a, y = layoutLast ? channelsLast(b) : b
            guard x.channelsLast == y.channelsLast else { return nil }
            var out = x
            out.data.withUnsafeMutableBufferPointer { o in y.data.withUnsafeBufferPointer { yb in
                if add {
                    kernels.addReLU(o.baseAddress!, yb.baseAddress!, count: o.count, relu: relu, y: o.baseAddress!)
                } else {
                    for i in o.indices { o[i] *= yb[i] }
                    if relu { kernels.relu(o.baseAddress!, count: o.count, y: o.baseAddress!) }
                }
            } }
            return out
        }
        // An image (made channels-last), and an operand of at most [n, c, 1, 1].
        let (image, s) = a.data.count >= b.data.count ? (a, b) : (b, a)
        guard image.shape.count == 4, s.shape.count <= 4 else { return nil }
        let x = channelsLast(image)
        let full = Array(repeating: 1, count: 4 - s.shape.count) + s.shape
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        guard full[2] == 1, full[3] == 1, full[0] == 1 || full[0] == n, full[1] == 1 || full[1] == c else { return nil }
        let perImage = full[0] == n && n > 1, perChannel = full[1] == c && c > 1
        var out = x
        out.data.withUnsafeMutableBufferPointer { o in s.data.withUnsafeBufferPointer { sb in
            for image in 0..<n {
                let row = perImage ? image * full[1] : 0
                for p in 0..<hw {
                    let base = (image * hw + p) * c
                    if perChannel {
                        if add { for ch in 0..<c { o[base + ch] += sb[row + ch] } } else { for ch in 0..<c { o[base + ch] *= sb[row + ch] } }
                    } else {
                        let v = sb[row]
                        if add { for ch in 0..<c { o[base + ch] += v } } else { for ch in 0..<c { o[base + ch] *= v } }
                    }
                }
            }
            if relu { kernels.relu(o.baseAddress!, count: o.count, y: o.baseAddress!) }
        } }
        return out
    }

    /// Concat along the channels of 4-D images, when one of them is channels-last.
    func concatChannelsLast(_ node: GraphNode, _ parts: [Value]) throws(GraphError) -> Value? {
        guard let first = parts.first, first.shape.count == 4, parts.contains(where: \.channelsLast) else { return nil }
        var axis = Int(node.int("axis") ?? 1)
        if axis < 0 { axis += 4 }
        guard axis == 1, parts.allSatisfy({ $0.shape.count == 4 && $0.shape[0] == first.shape[0] && $0.shape[2...] == first.shape[2...] }) else {
            return nil
        }
        let images = parts.map(channelsLast)
        let n = first.shape[0], hw = first.shape[2] * first.shape[3]
        let c = images.reduce(0) { $0 + $1.shape[1] }
        let out = Self.uninitialized(n * hw * c) { o in
            var offset = 0
            for part in images {
                let pc = part.shape[1]
                part.data.withUnsafeBufferPointer { src in
                    for pixel in 0..<(n * hw) { (o + pixel * c + offset).update(from: src.baseAddress! + pixel * pc, count: pc) }
                }
                offset += pc
            }
        }
        return Value(shape: [n, c, first.shape[2], first.shape[3]], data: out, channelsLast: true)
    }

    func poolChannelsLast(_ node: GraphNode, _ x: Value) throws(GraphError) -> Value {
        guard let kernel = node.ints("kernel_shape")?.map({ Int(clamping: $0) }) else { throw GraphError("kernel_shape is missing") }
        if (node.int("storage_order") ?? 0) != 0 { throw GraphError("storage_order 1 is not supported") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = try geometry(node, height: h, width: w, kernel: kernel)
        guard n * c * g.oh * g.ow <= 1 << 28 else { throw GraphError("the output would hold more than 2^28 values") }
        let (padEndY, padEndX) = Self.padEnds(node, g, height: h, width: w)
        let window = hs_window(kh: Int32(g.kh), kw: Int32(g.kw), sh: Int32(g.sh), sw: Int32(g.sw), dh: Int32(g.dh), dw: Int32(g.dw),
                               pt: Int32(g.pt), pl: Int32(g.pl), oh: Int32(g.oh), ow: Int32(g.ow),
                               pad_end_y: Int32(padEndY), pad_end_x: Int32(padEndX))
        let mode: Int32 = node.op == "MaxPool" ? Int32(HS_POOL_MAX)
            : (node.int("count_include_pad") ?? 0) != 0 ? Int32(HS_POOL_AVERAGE_WITH_PADDING) : Int32(HS_POOL_AVERAGE)
        let out = Self.uninitialized(n * c * g.oh * g.ow) { y in
            x.data.withUnsafeBufferPointer { kernels.windowPool($0.baseAddress!, n: n, h: h, w: w, c: c, window: window, mode: mode, y: y) }
        }
        return Value(shape: [n, c, g.oh, g.ow], data: out, channelsLast: true)
    }

    func globalAverageChannelsLast(_ x: Value) throws(GraphError) -> Value {
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let out = Self.uninitialized(n * c) { y in
            x.data.withUnsafeBufferPointer { kernels.globalAverage($0.baseAddress!, n: n, hw: hw, c: c, y: y) }
        }
        return Value(shape: [n, c, 1, 1], data: out)
    }
}
