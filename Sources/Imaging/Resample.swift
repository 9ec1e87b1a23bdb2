extension Raster {
    /// Resamples to `width`×`height` with an area (box) filter: each output pixel is the
    /// mean of the source area it covers, with fractional weights at its edges. This is
    /// exact for any real scale factor, so a 0.499 → 0.97 µm/px change averages the right
    /// source pixels rather than skipping some.
    public func resampledArea(width outW: Int, height outH: Int) -> Raster {
        precondition(outW > 0 && outH > 0, "resampledArea: target \(outW)×\(outH) must be positive")
        precondition(width > 0 && height > 0, "resampledArea: source \(width)×\(height) is empty")
        if outW == width && outH == height { return self }
        return resample(xTaps: Self.areaTaps(source: width, target: outW), yTaps: Self.areaTaps(source: height, target: outH),
                        outW: outW, outH: outH)
    }

    private func resample(xTaps: [[(Int, Float)]], yTaps: [[(Int, Float)]], outW: Int, outH: Int) -> Raster {
        let c = channels
        let xt = FlatTaps(xTaps, stride: c), yt = FlatTaps(yTaps, stride: width * c)
        let srcRowLength = width * c

        // Vertical pass first, on contiguous rows (vectorises): outH × width × c floats. Taps are
        // padded with zero weights to a fixed count, which leaves every sum unchanged.
        var rows = [Float](repeating: 0, count: outH * srcRowLength)
        pixels.withUnsafeBufferPointer { srcBuffer in
            rows.withUnsafeMutableBufferPointer { dstBuffer in
                let src = srcBuffer.baseAddress!, n = yt.perOutput
                for oy in 0..<outH {
                    let acc = dstBuffer.baseAddress! + oy * srcRowLength
                    for k in (oy * n)..<(oy * n + n) {
                        let w = yt.weights[k], row = src + yt.offsets[k]
                        for i in 0..<srcRowLength { acc[i] += w * Float(row[i]) }
                    }
                }
            }
        }
        // Horizontal pass, rounding to bytes.
        var out = Raster(width: outW, height: outH, channels: c)
        rows.withUnsafeBufferPointer { srcBuffer in
            out.pixels.withUnsafeMutableBufferPointer { dstBuffer in
                xt.offsets.withUnsafeBufferPointer { offsets in
                    xt.weights.withUnsafeBufferPointer { weights in
                        let n = xt.perOutput
                        // Sums are ≥ 0, so adding ½ and truncating rounds half away from zero.
                        @inline(__always) func byte(_ v: Float) -> UInt8 { UInt8(min(255, v + 0.5)) }
                        for y in 0..<outH {
                            let srcRow = srcBuffer.baseAddress! + y * srcRowLength
                            let dst = dstBuffer.baseAddress! + y * outW * c
                            if c == 3 {
                                for ox in 0..<outW {
                                    var r: Float = 0, g: Float = 0, b: Float = 0
                                    for k in (ox * n)..<(ox * n + n) {
                                        let w = weights[k], p = srcRow + offsets[k]
                                        r += w * p[0]; g += w * p[1]; b += w * p[2]
                                    }
                                    dst[3 * ox] = byte(r); dst[3 * ox + 1] = byte(g); dst[3 * ox + 2] = byte(b)
                                }
                            } else {
                                for ox in 0..<outW {
                                    for ch in 0..<c {
                                        var sum: Float = 0
                                        for k in (ox * n)..<(ox * n + n) { sum += weights[k] * srcRow[offsets[k] + ch] }
                                        dst[ox * c + ch] = byte(sum)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Taps laid out flat: `perOutput` per output index, as element offsets (source index ×
    /// `stride`) and weights, padded with zero-weight taps on the last index.
    private struct FlatTaps {
        let perOutput: Int
        var offsets: [Int] = [], weights: [Float] = []
        init(_ taps: [[(Int, Float)]], stride: Int) {
            perOutput = taps.map(\.count).max() ?? 0
            offsets.reserveCapacity(taps.count * perOutput)
            weights.reserveCapacity(taps.count * perOutput)
            for t in taps {
                for k in 0..<perOutput {
                    offsets.append((k < t.count ? t[k].0 : t.last!.0) * stride)
                    weights.append(k < t.count ? t[k].1 : 0)
                }
            }
        }
    }

    /// Area-resamples a window of the source: output pixel (ox, oy) averages the source
    /// rectangle `[offsetX + ox·scaleX, offsetX + (ox+1)·scaleX) × [offsetY + oy·scaleY, …)`,
    /// in source pixels. Areas beyond the raster repeat its edge pixels.
    public func resampledArea(width outW: Int, height outH: Int, scaleX: Double, scaleY: Double,
                              offsetX: Double, offsetY: Double) -> Raster {
        precondition(channels == 3, "resampledArea(offset:): RGB only, got \(channels) channels")
        let xTaps = Self.areaTaps(source: width, target: outW, scale: scaleX, offset: offsetX)
        let yTaps = Self.areaTaps(source: height, target: outH, scale: scaleY, offset: offsetY)
        return resample(xTaps: xTaps, yTaps: yTaps, outW: outW, outH: outH)
    }

    /// For each output index, the source indices it overlaps and their normalised weights.
    static func areaTaps(source: Int, target: Int) -> [[(Int, Float)]] {
        areaTaps(source: source, target: target, scale: Double(source) / Double(target), offset: 0)
    }

    /// Taps for output pixels covering `[offset + o·scale, offset + (o+1)·scale)`; the part
    /// outside `0..<source` is clamped to the nearest edge pixel.
    static func areaTaps(source: Int, target: Int, scale: Double, offset: Double) -> [[(Int, Float)]] {
        return (0..<target).map { o in
            let lo = offset + Double(o) * scale, hi = offset + Double(o + 1) * scale
            var taps: [(Int, Float)] = []
            var s = Int(lo.rounded(.down))
            while Double(s) < hi {
                let overlap = min(hi, Double(s + 1)) - max(lo, Double(s))
                if overlap > 1e-9 { taps.append((min(max(s, 0), source - 1), Float(overlap / scale))) }
                s += 1
            }
            return taps
        }
    }
}

