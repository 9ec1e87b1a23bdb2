import CKernels

/// The fast path of `Conv2D` for 3×3, stride 1, 'same' convolutions in Float with a multiple
/// of 32 output channels, on the active kernel set (every CPU has one): the direct convolution
/// or Winograd, split over rows (forward and input gradient) or images (Winograd, weight
/// gradient) across `Threading.threadCount` workers.
enum FastConv3x3 {
    static func applies(_ g: ConvGeometry, scalar: Any.Type) -> Bool {
        scalar == Float.self && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1
            && g.padding == Padding2D(top: 1, bottom: 1, left: 1, right: 1) && g.outputChannels % Int(HS_CONV_BLOCK) == 0
    }

    /// The input-gradient convolution maps Cout → Cin, so it needs Cin to be a multiple of 32.
    static func appliesToInputGradient(_ g: ConvGeometry) -> Bool { g.inputChannels % Int(HS_CONV_BLOCK) == 0 }

    /// x `[N, H, W, Cin]` → `[N, H+2, W+2, Cin]` with a zero border.
    /// Split over images across the threads: on a training batch this is a copy of tens of MB.
    static func padded(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int) -> [Float] {
        // hs_pad1 writes every element, borders included, so the buffer starts uninitialised.
        let count = n * (h + 2) * (w + 2) * c
        let imageIn = h * w * c, imageOut = (h + 2) * (w + 2) * c
        nonisolated(unsafe) let x = x
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            nonisolated(unsafe) let out = buffer.baseAddress!
            Threading.parallelFor(n) { _, images in
                hs_pad1(x + images.lowerBound * imageIn, Int32(images.count), Int32(h), Int32(w), Int32(c),
                        out + images.lowerBound * imageOut)
            }
            initialized = count
        }
    }

    /// out `[N, H, W, Cout]` = act(conv(x, kernel) + bias). Returns x padded, which the weight
    /// gradient can reuse instead of padding x again.
    @discardableResult
    static func forward(_ kernels: KernelSet, x: UnsafePointer<Float>, n: Int, g: ConvGeometry, kernel: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, relu: Bool, out: UnsafeMutablePointer<Float>) -> [Float] {
        convolve(kernels, x, n: n, h: g.inputHeight, w: g.inputWidth, from: g.inputChannels, to: g.outputChannels, kernel: kernel,
                 flipTranspose: false, bias: bias, relu: relu, out: out)
    }

    /// dx `[N, H, W, Cin]` = conv(dy, flipped and transposed kernel).
    static func inputGradient(_ kernels: KernelSet, dy: UnsafePointer<Float>, n: Int, g: ConvGeometry, kernel: UnsafePointer<Float>,
                              dx: UnsafeMutablePointer<Float>) {
        _ = convolve(kernels, dy, n: n, h: g.inputHeight, w: g.inputWidth, from: g.outputChannels, to: g.inputChannels, kernel: kernel,
                 flipTranspose: true, bias: nil, relu: false, out: dx)
    }

    /// The 3×3 'same' convolution of `input` (`from` channels) into `out` (`to` channels), with
    /// the HWIO `kernel` packed as is or flipped and transposed, split over rows across threads.
    private static func convolve(_ kernels: KernelSet, _ input: UnsafePointer<Float>, n: Int, h: Int, w: Int, from: Int, to: Int,
                                 kernel: UnsafePointer<Float>, flipTranspose: Bool, bias: UnsafePointer<Float>?, relu: Bool,
                                 out: UnsafeMutablePointer<Float>) -> [Float] {
        // The pack takes the kernel's own (cin, cout), whichever way it is packed.
        let (cin, cout) = flipTranspose ? (to, from) : (from, to)
        let p = padded(input, n: n, h: h, w: w, c: from)
        nonisolated(unsafe) let outPtr = out
        if winogradApplies(n: n, h: h, w: w, from: from) {
            // Winograd (see winograd.c), split over images: the weights change every step, so
            // they are transformed here, which costs 16·cin·cout writes against the layer's
            // n·h·w·cin·cout·8 multiply-adds.
            let hwio: [Float] = flipTranspose ? flippedTransposed(kernel, cin: cin, cout: cout)
                                              : Array(UnsafeBufferPointer(start: kernel, count: 9 * cin * cout))
            var transformed = [Float](repeating: 0, count: 16 * from * to)
            transformed.withUnsafeMutableBufferPointer { hs_winograd_pack(hwio, Int32(from), Int32(to), $0.baseAddress!) }
            let imageIn = (h + 2) * (w + 2) * from, imageOut = h * w * to
            let scratchSize = hs_winograd_scratch_floats(Int32(from), Int32(to))
            p.withUnsafeBufferPointer { pp in
                transformed.withUnsafeBufferPointer { up in
                    Threading.parallelFor(n) { _, images in
                        // Uninitialised: the kernel writes every scratch element before reading it.
                        var scratch = [Float](unsafeUninitializedCapacity: scratchSize) { _, count in count = scratchSize }
                        scratch.withUnsafeMutableBufferPointer { sp in
                            kernels.winogradForward(pp.baseAddress! + images.lowerBound * imageIn, n: images.count, h: h, w: w,
                                                    cin: from, transformed: up.baseAddress!, bias: bias, cout: to, relu: relu,
                                                    out: outPtr + images.lowerBound * imageOut, outPadded: false,
                                                    scratch: sp.baseAddress!)
                        }
                    }
                }
            }
            return p
        }
        p.withUnsafeBufferPointer { pp in
            packed(kernel, cin: cin, cout: cout, flipTranspose: flipTranspose).withUnsafeBufferPointer { wp in
                Threading.parallelFor(n * h) { _, rows in
                    kernels.conv3x3Forward(pp.baseAddress!, h: h, w: w, cin: from, packed: wp.baseAddress!, bias: bias, cout: to,
                                           relu: relu, out: outPtr, rows: rows, outPadded: false)
                }
            }
        }
        return p
    }

    /// FLOPs Winograd saves on a convolution of `directFlops`: it does 16 multiply-adds per
    /// 2×2 tile and channel pair where the direct method does 36, i.e. 4 per output instead of 9.
    static func winogradSavedFlops(_ directFlops: Int) -> Int { directFlops * 5 / 9 }

    /// Whether a training convolution runs as Winograd: it fits, and there is at least one
    /// image per thread, since the work is split over images; not with `HISTOSCREEN_CONV=direct`.
    static func winogradApplies(n: Int, h: Int, w: Int, from: Int) -> Bool {
        KernelSet.winograd && KernelSet.winogradFits(h: h, w: w, inputChannels: from) && n >= Threading.threadCount
    }

    private static func packed(_ kernel: UnsafePointer<Float>, cin: Int, cout: Int, flipTranspose: Bool) -> [Float] {
        var packed = [Float](repeating: 0, count: 9 * cin * cout)
        packed.withUnsafeMutableBufferPointer {
            hs_conv3x3_pack(kernel, Int32(cin), Int32(cout), flipTranspose ? 1 : 0, $0.baseAddress!)
        }
        return packed
    }

    /// The input-gradient convolution's HWIO kernel `[3][3][cout][cin]`:
    /// W'[ky][kx][co][ci] = W[2 − ky][2 − kx][ci][co].
    private static func flippedTransposed(_ kernel: UnsafePointer<Float>, cin: Int, cout: Int) -> [Float] {
        var out = [Float](repeating: 0, count: 9 * cin * cout)
        for ky in 0..<3 {
            for kx in 0..<3 {
                let src = kernel + ((2 - ky) * 3 + (2 - kx)) * cin * cout
                let dstBase = (ky * 3 + kx) * cout * cin
                for ci in 0..<cin {
                    for co in 0..<cout { out[dstBase + co * cin + ci] = src[ci * cout + co] }
                }
            }
        }
        return out
    }

    /// dKernel `[3, 3, Cin, Cout]` += Σ over the batch of patch(x)ᵀ · dy. Each worker sums its
    /// images into its own buffer; the buffers are then added in a fixed order, so results do
    /// not depend on scheduling.
    /// `paddedX`, when given, is x already padded (as `forward` returned it).
    static func weightGradient(_ kernels: KernelSet, x: UnsafePointer<Float>, paddedX: [Float]? = nil, dy: UnsafePointer<Float>, n: Int,
                               g: ConvGeometry, dKernel: UnsafeMutablePointer<Float>) {
        let h = g.inputHeight, w = g.inputWidth, cin = g.inputChannels, cout = g.outputChannels
        let p = paddedX ?? padded(x, n: n, h: h, w: w, c: cin)
        precondition(p.count == n * (h + 2) * (w + 2) * cin, "weightGradient: padded input has the wrong size")
        let size = 9 * cin * cout
        let parts = min(Threading.threadCount, n)
        var partial = [Float](repeating: 0, count: parts * size)
        let blocks = cout / Int(HS_CONV_BLOCK)
        let imageIn = (h + 2) * (w + 2) * cin, imageOut = h * w * cout
        p.withUnsafeBufferPointer { pp in
            partial.withUnsafeMutableBufferPointer { partialBuffer in
                nonisolated(unsafe) let base = partialBuffer.baseAddress!
                Threading.parallelFor(n) { part, images in
                    kernels.conv3x3WeightGradient(pp.baseAddress! + images.lowerBound * imageIn, dy: dy + images.lowerBound * imageOut,
                                                  n: images.count, h: h, w: w, cin: cin, cout: cout, dw: base + part * size,
                                                  accumulate: false, blocks: 0..<blocks)
                }
            }
        }
        for part in 0..<parts {
            partial.withUnsafeBufferPointer { pb in
                for i in 0..<size { dKernel[i] += pb[part * size + i] }
            }
        }
    }
}
