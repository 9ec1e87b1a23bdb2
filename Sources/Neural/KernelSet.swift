import CKernels
import Foundation

/// One instruction set's compiled kernels: a table from CKernels (see CKernels.h), written once
/// and compiled for AVX-512, AVX2 + FMA, NEON and portable C.
///
/// The engine calls only through `KernelSet.active`, chosen once per process: the set that
/// `HISTOSCREEN_ISA` names (`avx512`, `avx2`, `neon`, `portable`), or the best this CPU runs.
/// Tests and benchmarks may also hold any supported set and call it directly.
public struct KernelSet: @unchecked Sendable, Equatable, CustomStringConvertible {  // the table is immutable static C storage
    let table: UnsafePointer<hs_kernel_set>

    init(_ table: UnsafePointer<hs_kernel_set>) { self.table = table }

    /// "avx512", "avx2", "neon" or "portable".
    public var name: String { String(cString: table.pointee.name) }
    /// What the set uses, e.g. "AVX2 + FMA, 8 lanes".
    public var summary: String { String(cString: table.pointee.summary) }
    /// Floats per vector register.
    public var lanes: Int { Int(table.pointee.lanes) }
    /// The convolutions' register tile, rows × columns of floats.
    public var tile: (rows: Int, columns: Int) { (Int(table.pointee.tile_rows), Int(table.pointee.tile_cols)) }
    /// Whether this CPU (and OS) can run the set.
    public var isSupported: Bool { hs_kernel_set_supported(table) != 0 }
    public var description: String { name }

    public static func == (a: KernelSet, b: KernelSet) -> Bool { a.table == b.table }

    /// Every set built into this binary for this architecture, best first.
    public static let all: [KernelSet] = {
        var sets: [KernelSet] = []
        while let t = hs_kernel_set_at(Int32(sets.count)) { sets.append(KernelSet(t)) }
        return sets
    }()

    /// The sets this CPU can run, best first (the last is always `portable`).
    public static var supported: [KernelSet] { all.filter(\.isSupported) }

    /// The built-in set of that name, whether or not this CPU runs it.
    public static func named(_ name: String) -> KernelSet? { all.first { $0.name == name } }

    // MARK: The active set

    private static let chosen: (set: KernelSet, problem: String?) = {
        let request = ProcessInfo.processInfo.environment["HISTOSCREEN_ISA"]
        var problem: UnsafePointer<CChar>?
        let table = hs_kernel_set_choose(request, &problem)!
        return (KernelSet(table), problem.map { "HISTOSCREEN_ISA=\(request ?? ""): \(String(cString: $0))" })
    }()
    nonisolated(unsafe) private static var override: KernelSet?

    /// The set the engine uses: `HISTOSCREEN_ISA`'s, or the best this CPU runs, unless
    /// `use(_:)` chose another. Read it once per computation: a network compiled with one set
    /// keeps it.
    public static var active: KernelSet { override ?? chosen.set }

    /// Why `HISTOSCREEN_ISA` could not be honoured (the best supported set runs instead); nil
    /// when it is unset or was honoured. The CLI refuses to run while this is set.
    public static var requestProblem: String? { override == nil ? chosen.problem : nil }

    /// Makes `set` the active one for the rest of the process; call before any engine work
    /// (benchmarks' `--isa`). The set must be supported.
    public static func use(_ set: KernelSet) {
        precondition(set.isSupported, "KernelSet.use: this CPU cannot run the \(set.name) kernels")
        override = set
    }

    /// True when 3×3 convolutions whose input has an even size and a multiple of 16 channels may
    /// run as Winograd F(2×2, 3×3): unless `HISTOSCREEN_CONV` is `direct`. Read once per process.
    public static let winograd: Bool = ProcessInfo.processInfo.environment["HISTOSCREEN_CONV"] != "direct"

    /// Whether Winograd F(2×2, 3×3) can run a 3×3 'same' convolution of this input (every set's
    /// `winograd_forward`; the engine's rule too): even height and width, and a multiple of 16
    /// input channels (output channels a multiple of 32, as every fast path here needs).
    public static func winogradFits(h: Int, w: Int, inputChannels: Int) -> Bool {
        inputChannels % 16 == 0 && h % 2 == 0 && w % 2 == 0
    }

    /// What the engine runs, for benchmark and log output: "avx2 kernels (AVX2 + FMA, 8 lanes):
    /// Winograd F(2×2,3×3) and direct 3×3 convolution".
    public static var activeDescription: String {
        "\(active.name) kernels (\(active.summary)): "
            + (winograd ? "Winograd F(2×2,3×3) and direct 3×3 convolution" : "direct 3×3 convolution")
    }

    /// The CPU's model name, e.g. "AMD EPYC 9R45".
    public static let cpuName: String = {
        var buffer = [CChar](repeating: 0, count: 128)
        hs_cpu_name(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}

// MARK: Calls through the table (shapes and layouts: CKernels.h)

extension KernelSet {
    /// FLOPs of one `fmaPeak(iterations:)` call.
    public func fmaPeakFlops(iterations: Int) -> Double { Double(iterations * 24 * lanes) }
    public func fmaPeak(iterations: Int) -> Double { table.pointee.fma_peak(iterations) }

    func conv3x3Forward(_ padded: UnsafePointer<Float>, h: Int, w: Int, cin: Int, packed: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, cout: Int, relu: Bool, out: UnsafeMutablePointer<Float>,
                        rows: Range<Int>, outPadded: Bool) {
        table.pointee.conv3x3_forward(padded, Int32(h), Int32(w), Int32(cin), packed, bias, Int32(cout), relu ? 1 : 0, out,
                                      Int32(rows.lowerBound), Int32(rows.upperBound), outPadded ? 1 : 0)
    }

    func winogradForward(_ padded: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int, transformed: UnsafePointer<Float>,
                         bias: UnsafePointer<Float>?, cout: Int, relu: Bool, out: UnsafeMutablePointer<Float>, outPadded: Bool,
                         scratch: UnsafeMutablePointer<Float>) {
        table.pointee.winograd_forward(padded, Int32(n), Int32(h), Int32(w), Int32(cin), transformed, bias, Int32(cout),
                                       relu ? 1 : 0, out, outPadded ? 1 : 0, scratch)
    }

    func conv3x3WeightGradient(_ padded: UnsafePointer<Float>, dy: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int,
                               cout: Int, dw: UnsafeMutablePointer<Float>, accumulate: Bool, blocks: Range<Int>) {
        table.pointee.conv3x3_weight_grad(padded, dy, Int32(n), Int32(h), Int32(w), Int32(cin), Int32(cout), dw,
                                          accumulate ? 1 : 0, Int32(blocks.lowerBound), Int32(blocks.upperBound))
    }

    func channelSums(_ x: UnsafePointer<Float>, rows: Int, c: Int, mean: UnsafePointer<Float>?,
                     sum: UnsafeMutablePointer<Float>?, squares: UnsafeMutablePointer<Float>?) {
        table.pointee.channel_sums(x, rows, Int32(c), mean, sum, squares)
    }

    func affineReLU(_ x: UnsafePointer<Float>, rows: Int, c: Int, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                    relu: Bool, y: UnsafeMutablePointer<Float>) {
        table.pointee.affine_relu(x, rows, Int32(c), scale, shift, relu ? 1 : 0, y)
    }

    func batchNormNormalize(_ x: UnsafePointer<Float>, rows: Int, c: Int, mean: UnsafePointer<Float>,
                            invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, relu: Bool,
                            xhat: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        table.pointee.bn_normalize(x, rows, Int32(c), mean, invstd, gamma, beta, relu ? 1 : 0, xhat, y)
    }

    func batchNormBackwardSums(dy: UnsafePointer<Float>, y: UnsafePointer<Float>?, xhat: UnsafePointer<Float>, rows: Int, c: Int,
                               relu: Bool, sumG: UnsafeMutablePointer<Float>, sumGX: UnsafeMutablePointer<Float>) {
        table.pointee.bn_backward_sums(dy, y, xhat, rows, Int32(c), relu ? 1 : 0, sumG, sumGX)
    }

    func batchNormBackwardApply(dy: UnsafePointer<Float>, y: UnsafePointer<Float>?, xhat: UnsafePointer<Float>, rows: Int, c: Int,
                                relu: Bool, k1: UnsafePointer<Float>, meanG: UnsafePointer<Float>, meanGX: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>) {
        table.pointee.bn_backward_apply(dy, y, xhat, rows, Int32(c), relu ? 1 : 0, k1, meanG, meanGX, dx)
    }

    func relu(_ x: UnsafePointer<Float>, count: Int, y: UnsafeMutablePointer<Float>) { table.pointee.relu(x, count, y) }

    func reluBackward(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, count: Int, dx: UnsafeMutablePointer<Float>) {
        table.pointee.relu_backward(dy, y, count, dx)
    }

    func maxPool2x2(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int, y: UnsafeMutablePointer<Float>,
                    which: UnsafeMutablePointer<UInt8>?) {
        table.pointee.maxpool2x2(x, Int32(n), Int32(h), Int32(w), Int32(c), y, which)
    }

    func maxPool2x2Backward(dy: UnsafePointer<Float>, which: UnsafePointer<UInt8>, n: Int, h: Int, w: Int, c: Int,
                            dx: UnsafeMutablePointer<Float>) {
        table.pointee.maxpool2x2_backward(dy, which, Int32(n), Int32(h), Int32(w), Int32(c), dx)
    }

    func dense(_ x: UnsafePointer<Float>, n: Int, inputs: Int, kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
               outputs: Int, relu: Bool, y: UnsafeMutablePointer<Float>) {
        table.pointee.dense(x, Int32(n), Int32(inputs), kernel, bias, Int32(outputs), relu ? 1 : 0, y)
    }

    func globalAverage(_ x: UnsafePointer<Float>, n: Int, hw: Int, c: Int, y: UnsafeMutablePointer<Float>) {
        table.pointee.global_average(x, Int32(n), Int32(hw), Int32(c), y)
    }
}

// MARK: Windows of any shape (the graph engine's convolutions and pools)

extension KernelSet {
    func convForward(_ padded: UnsafePointer<Float>, ph: Int, pw: Int, cin: Int, window: hs_window, packed: UnsafePointer<Float>,
                     bias: UnsafePointer<Float>?, cout: Int, relu: Bool, out: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        var g = window
        table.pointee.conv_forward(padded, Int32(ph), Int32(pw), Int32(cin), &g, packed, bias, Int32(cout), relu ? 1 : 0, out,
                                   Int32(rows.lowerBound), Int32(rows.upperBound))
    }

    func gemmForward(_ a: UnsafePointer<Float>, m: Int, k: Int, packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                     cout: Int, relu: Bool, out: UnsafeMutablePointer<Float>) {
        table.pointee.gemm_forward(a, m, Int32(k), packed, bias, Int32(cout), relu ? 1 : 0, out)
    }

    func depthwiseConv(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int, window: hs_window, kernel: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>) {
        var g = window
        table.pointee.depthwise_conv(x, Int32(n), Int32(h), Int32(w), Int32(c), &g, kernel, bias, relu ? 1 : 0, y)
    }

    func windowPool(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int, window: hs_window, mode: Int32,
                    y: UnsafeMutablePointer<Float>) {
        var g = window
        table.pointee.window_pool(x, Int32(n), Int32(h), Int32(w), Int32(c), &g, mode, y)
    }

    func addReLU(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, relu: Bool, y: UnsafeMutablePointer<Float>) {
        table.pointee.add_relu(a, b, count, relu ? 1 : 0, y)
    }
}

extension KernelSet {
    func sigmoid(_ x: UnsafePointer<Float>, count: Int, y: UnsafeMutablePointer<Float>) { table.pointee.sigmoid(x, count, y) }
}
