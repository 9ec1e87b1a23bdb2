import CImaging

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
        // Vertical taps into one float row of the source's width, then horizontal taps,
        // output row by output row (CImaging's hs_resample_u8): the row stays in cache.
        var out = Raster(width: outW, height: outH, channels: c)
        var row = [Float](repeating: 0, count: width * c + 4)
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                row.withUnsafeMutableBufferPointer { rowBuffer in
                    hs_resample_u8(src.baseAddress!, width * c, Int32(c), yt.offsets, yt.weights, Int32(yt.perOutput), Int32(outH),
                                   xt.offsets, xt.weights, Int32(xt.perOutput), Int32(outW), rowBuffer.baseAddress!, dst.baseAddress!)
                }
            }
        }
        return out
    }

    /// Taps laid out flat: `perOutput` per output index, as element offsets (source index ×
    /// `stride`) and weights, padded with zero-weight taps on the last index.
    private struct FlatTaps {
        let perOutput: Int
        var offsets: [Int64] = [], weights: [Float] = []
        init(_ taps: [[(Int, Float)]], stride: Int) {
            perOutput = taps.map(\.count).max() ?? 0
            offsets.reserveCapacity(taps.count * perOutput)
            weights.reserveCapacity(taps.count * perOutput)
            for t in taps {
                for k in 0..<perOutput {
                    offsets.append(Int64((k < t.count ? t[k].0 : t.last!.0) * stride))
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

