/// Binary cross-entropy on logits, averaged over the batch:
/// `ℓ(z, y) = w·y·softplus(−z) + (1 − y)·softplus(z)`, where `w` is the positive-class weight
/// and `softplus(t) = max(t, 0) + log1p(exp(−|t|))` never overflows.
/// The gradient is `(w·y·(σ(z) − 1) + (1 − y)·σ(z)) / N`.
public enum BinaryCrossEntropy {
    public static func softplus<T: NeuralScalar>(_ t: T) -> T { max(t, 0) + T.log1p(T.exp(-abs(t))) }

    /// σ(z) without overflow for large |z|.
    public static func sigmoid<T: NeuralScalar>(_ z: T) -> T {
        z >= 0 ? 1 / (1 + T.exp(-z)) : T.exp(z) / (1 + T.exp(z))
    }

    /// - Parameters:
    ///   - logits: `[N, 1]` or `[N]`.
    ///   - labels: N values in [0, 1].
    /// - Returns: the mean loss and its gradient with respect to `logits` (same shape).
    public static func lossAndGradient<T: NeuralScalar>(logits: Tensor<T>, labels: [T], positiveWeight: T = 1)
        -> (loss: T, gradient: Tensor<T>) {
        precondition(logits.count == labels.count, "BCE: \(logits.count) logits for \(labels.count) labels")
        let n = T(labels.count)
        var loss: T = 0
        var gradient = Tensor<T>(shape: logits.shape)
        for i in 0..<labels.count {
            let z = logits.data[i], y = labels[i]
            loss += positiveWeight * y * softplus(-z) + (1 - y) * softplus(z)
            let s = sigmoid(z)
            gradient.data[i] = (positiveWeight * y * (s - 1) + (1 - y) * s) / n
        }
        return (loss / n, gradient)
    }
}
