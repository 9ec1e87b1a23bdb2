import Neural

/// Bounds on float32 rounding error that follow from the arithmetic, not from one CPU's
/// rounding (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §3.1 and §3.5).
///
/// A value computed from exact inputs by a chain of at most k floating-point operations, each
/// rounding once (a fused multiply-add once, a separate multiply and add twice), in any order,
/// differs from the exact value by at most γ(k) · M, where M is the same computation on the
/// absolute values of every input and coefficient, and γ(k) = k·u / (1 − k·u) with u = 2⁻²⁴.
/// For a dot product of K terms plus a bias, k = 2K + 1 and M = |b| + Σ|xᵢ||wᵢ|: that bound
/// holds on every CPU, whichever kernel set ran, with or without fused multiply-adds and
/// whatever the summation order.
public enum RoundingBound {
    /// The unit roundoff of Float.
    public static let unitRoundoff = 0x1p-24

    /// γ(k) for float32 (or for another unit roundoff: 2⁻⁵³ for Double); k·u must be below 1.
    public static func gamma(_ k: Int, unitRoundoff u: Double = unitRoundoff) -> Double {
        let ku = Double(k) * u
        precondition(ku < 1, "γ(\(k)) is unbounded at unit roundoff \(u)")
        return ku / (1 - ku)
    }

    /// γ(operations) · magnitude per element, plus 1e-12 · magnitude for the rounding of the
    /// Double computation that gave the exact values and magnitudes.
    public static func bounds(_ magnitude: [Double], operations: Int) -> [Double] {
        let g = gamma(operations) + 1e-12
        return magnitude.map { g * $0 }
    }

    /// The largest |got − exact| / bound over all elements: at most 1 when every element lies
    /// within its bound.
    public static func worstRatio(_ got: [Float], exact: [Double], bounds: [Double]) -> Double {
        precondition(got.count == exact.count && exact.count == bounds.count,
                     "compared \(got.count) values with \(exact.count) exact values and \(bounds.count) bounds")
        var worst = 0.0
        for i in got.indices {
            let error = abs(Double(got[i]) - exact[i])
            if error == 0 { continue }
            worst = max(worst, bounds[i] > 0 ? error / bounds[i] : .infinity)
        }
        return worst
    }

    /// The element-wise absolute value of a tensor, converted to Double.
    public static func absolute<T: NeuralScalar>(_ t: Tensor<T>) -> Tensor<Double> {
        let d: Tensor<Double> = t.converted()
        return Tensor(shape: d.shape, data: d.data.map(abs))
    }

    // MARK: Winograd F(2×2, 3×3)

    /// The coefficient with which the product |d[p]|·|g[q]| (input p of a tile's 4-pixel window
    /// row, tap q of 3) enters output o (of 2) of Winograd F(2, 3) in one dimension, counting the
    /// transforms Aᵀ[(G g) ⊙ (Bᵀ d)] on absolute values: Σ_ξ |Aᵀ[o][ξ]|·|Bᵀ[ξ][p]|·|G[ξ][q]|. In
    /// two dimensions the coefficient is the product of one factor per dimension. `[o][p][q]`.
    public static let winogradCoefficients: [[[Double]]] = {
        let at: [[Double]] = [[1, 1, 1, 0], [0, 1, -1, -1]]
        let bt: [[Double]] = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        let g: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        return (0..<2).map { o in
            (0..<4).map { p in (0..<3).map { q in (0..<4).reduce(0) { $0 + abs(at[o][$1]) * abs(bt[$1][p]) * abs(g[$1][q]) } } }
        }
    }()

    /// Operations on the longest path to one Winograd output: 2 in the input transform, 1 in
    /// rounding the weight transform, 2 per input channel in the GEMM, 4 in the output
    /// transform and 1 for the bias.
    public static func winogradOperations(inputChannels cin: Int) -> Int { 2 * cin + 8 }

    /// Per output element of a 3×3 'same' convolution of x `[N, H, W, Cin]` (H, W even) with
    /// kernel `[3, 3, Cin, Cout]` and bias: Winograd's magnitude M, the computation on absolute
    /// values, |b| + Σ_ci Σ_{p,q} c(o, p, q)·|d[p]|·|g[q]| over the tile's 4×4 input window p and
    /// the 3×3 taps q, with c the two-dimensional `winogradCoefficients`. Computed per output
    /// position o of the tile as one GEMM: [tiles][16·Cin] · [16·Cin][Cout].
    public static func winogradMagnitude(x: Tensor<Double>, kernel: Tensor<Double>, bias: Tensor<Double>?) -> [Double] {
        let n = x.shape[0], h = x.shape[1], w = x.shape[2], cin = x.shape[3], cout = kernel.shape[3]
        precondition(h % 2 == 0 && w % 2 == 0, "Winograd F(2×2, 3×3) needs even sizes, not \(h)×\(w)")
        let c = winogradCoefficients, tilesAcross = w / 2, tilesPerImage = (h / 2) * tilesAcross
        let tiles = n * tilesPerImage, k = 16 * cin
        // |d| per tile, window position and input channel: [tiles][16][cin].
        var d = [Double](repeating: 0, count: tiles * k)
        for t in 0..<tiles {
            let b = t / tilesPerImage, ty = (t % tilesPerImage) / tilesAcross, tx = t % tilesAcross
            for p in 0..<16 {  // the window starts one pixel up and left of the tile (the padding)
                let y = 2 * ty + p / 4 - 1, xx = 2 * tx + p % 4 - 1
                guard y >= 0, y < h, xx >= 0, xx < w else { continue }
                for ci in 0..<cin { d[t * k + p * cin + ci] = abs(x.data[((b * h + y) * w + xx) * cin + ci]) }
            }
        }
        var out = [Double](repeating: 0, count: n * h * w * cout)
        let absKernel = kernel.data.map(abs)  // [9][cin·cout]
        var g = [Double](repeating: 0, count: k * cout), m = [Double](repeating: 0, count: tiles * cout)
        for oy in 0..<2 {
            for ox in 0..<2 {
                // H[p][ci][co] = Σ_q c(o, p, q)·|g[q][ci][co]|: [16][9] · [9][cin·cout].
                var coefficients = [Double](repeating: 0, count: 16 * 9)
                for p in 0..<16 {
                    for q in 0..<9 {
                        let vertical: Double = c[oy][p / 4][q / 3], horizontal: Double = c[ox][p % 4][q % 3]
                        coefficients[p * 9 + q] = vertical * horizontal
                    }
                }
                coefficients.withUnsafeBufferPointer { a in
                    absKernel.withUnsafeBufferPointer { bp in
                        g.withUnsafeMutableBufferPointer { cp in
                            Double.gemm(transA: false, transB: false, m: 16, n: cin * cout, k: 9, alpha: 1, a: a.baseAddress!, lda: 9,
                                        b: bp.baseAddress!, ldb: cin * cout, beta: 0, c: cp.baseAddress!, ldc: cin * cout)
                        }
                    }
                }
                d.withUnsafeBufferPointer { a in
                    g.withUnsafeBufferPointer { bp in
                        m.withUnsafeMutableBufferPointer { cp in
                            Double.gemm(transA: false, transB: false, m: tiles, n: cout, k: k, alpha: 1, a: a.baseAddress!, lda: k,
                                        b: bp.baseAddress!, ldb: cout, beta: 0, c: cp.baseAddress!, ldc: cout)
                        }
                    }
                }
                for t in 0..<tiles {
                    let b = t / tilesPerImage, ty = (t % tilesPerImage) / tilesAcross, tx = t % tilesAcross
                    let o = ((b * h + 2 * ty + oy) * w + 2 * tx + ox) * cout
                    for co in 0..<cout { out[o + co] = m[t * cout + co] + abs(bias?.data[co] ?? 0) }
                }
            }
        }
        return out
    }
}
