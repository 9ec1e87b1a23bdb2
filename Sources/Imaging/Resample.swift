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

        // Horizontal pass: height × outW × c floats.
        var rows = [Float](repeating: 0, count: height * outW * c)
        pixels.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let srcRow = y * width * c, dstRow = y * outW * c
                    for (ox, taps) in xTaps.enumerated() {
                        for ch in 0..<c {
                            var sum: Float = 0
                            for (sx, w) in taps { sum += w * Float(src[srcRow + sx * c + ch]) }
                            dst[dstRow + ox * c + ch] = sum
                        }
                    }
                }
            }
        }
        // Vertical pass.
        var out = Raster(width: outW, height: outH, channels: c)
        let rowLength = outW * c
        rows.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                var acc = [Float](repeating: 0, count: rowLength)
                for (oy, taps) in yTaps.enumerated() {
                    for i in 0..<rowLength { acc[i] = 0 }
                    for (sy, w) in taps {
                        let base = sy * rowLength
                        for i in 0..<rowLength { acc[i] += w * src[base + i] }
                    }
                    for i in 0..<rowLength {
                        dst[oy * rowLength + i] = UInt8(max(0, min(255, acc[i].rounded())))
                    }
                }
            }
        }
        return out
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

