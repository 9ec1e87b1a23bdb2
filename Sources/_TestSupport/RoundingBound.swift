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

    /// The largest coefficient with which one |input| · |weight| product enters one output of
    /// Winograd F(2×2, 3×3), counting the transforms Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A on absolute
    /// values: the square (one factor per dimension) of max over o, p, q of
    /// Σ_ξ |Aᵀ[o][ξ]| · |Bᵀ[ξ][p]| · |G[ξ][q]|.
    public static let winogradCoefficient: Double = {
        let at: [[Double]] = [[1, 1, 1, 0], [0, 1, -1, -1]]
        let bt: [[Double]] = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        let g: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        var worst = 0.0
        for o in 0..<2 {
            for p in 0..<4 {
                for q in 0..<3 {
                    worst = max(worst, (0..<4).reduce(0) { $0 + abs(at[o][$1]) * abs(bt[$1][p]) * abs(g[$1][q]) })
                }
            }
        }
        return worst * worst
    }()

    /// Operations on the longest path to one Winograd output: 2 in the input transform, 1 in
    /// rounding the weight transform, 2 per input channel in the GEMM, 4 in the output
    /// transform and 1 for the bias.
    public static func winogradOperations(inputChannels cin: Int) -> Int { 2 * cin + 8 }

    /// Per output element of a 3×3 'same' convolution of x `[N, H, W, Cin]` (H, W even) with
    /// kernel `[3, 3, Cin, Cout]` and bias: an upper bound on Winograd's magnitude M,
    /// winogradCoefficient · Σ_ci S_d · S_g + |b|, where S_d sums |x| over the output's tile's
    /// 4×4 input window and S_g sums |w| over the 3×3 taps of (ci, co).
    public static func winogradMagnitude(x: Tensor<Double>, kernel: Tensor<Double>, bias: Tensor<Double>?) -> [Double] {
        let n = x.shape[0], h = x.shape[1], w = x.shape[2], cin = x.shape[3], cout = kernel.shape[3]
        precondition(h % 2 == 0 && w % 2 == 0, "Winograd F(2×2, 3×3) needs even sizes, not \(h)×\(w)")
        var sg = [Double](repeating: 0, count: cin * cout)  // [ci][co]
        for t in 0..<9 {
            for ci in 0..<cin {
                for co in 0..<cout { sg[ci * cout + co] += abs(kernel.data[(t * cin + ci) * cout + co]) }
            }
        }
        var out = [Double](repeating: 0, count: n * h * w * cout)
        var sd = [Double](repeating: 0, count: cin)
        for b in 0..<n {
            for ty in 0..<(h / 2) {
                for tx in 0..<(w / 2) {
                    for ci in 0..<cin { sd[ci] = 0 }
                    for dy in 0..<4 {
                        for dx in 0..<4 {  // the window starts one pixel up and left of the tile (the padding)
                            let y = 2 * ty + dy - 1, xx = 2 * tx + dx - 1
                            guard y >= 0, y < h, xx >= 0, xx < w else { continue }
                            for ci in 0..<cin { sd[ci] += abs(x.data[((b * h + y) * w + xx) * cin + ci]) }
                        }
                    }
                    for co in 0..<cout {
                        var m = 0.0
                        for ci in 0..<cin { m += sd[ci] * sg[ci * cout + co] }
                        m = winogradCoefficient * m + abs(bias?.data[co] ?? 0)
                        for oy in 0..<2 {
                            for ox in 0..<2 { out[((b * h + 2 * ty + oy) * w + 2 * tx + ox) * cout + co] = m }
                        }
                    }
                }
            }
        }
        return out
    }
}
