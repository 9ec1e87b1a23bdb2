import Foundation

extension ModelBundle {
    /// One network that averages the logits of several built-in networks: member k's layers,
    /// renamed `m<k>_<name>`, sit in nested residual blocks whose sums add the members' logits,
    /// and a final one-unit dense layer `mean` (kernel 1/n, bias 0) divides by their number.
    /// It trains, calibrates (the temperature folds into `mean`), exports and screens like any
    /// built-in network; screening runs its graph, the members side by side.
    ///
    /// The members must take the same input: shape, normalisation and µm per pixel. The
    /// result has no operating points; calibrate it on validation data.
    public static func ensemble(_ members: [(path: String, bundle: ModelBundle)], name: String) throws(ModelBundleError) -> ModelBundle {
        guard members.count >= 2 else { throw ModelBundleError(path: name, problem: "an ensemble needs at least two models") }
        // Each member but the last nests one block deeper.
        let depthLimit = Network<Float>.maximumResidualDepth
        guard members.count <= depthLimit + 1 else {
            throw ModelBundleError(path: name, problem: "an ensemble of \(members.count) models; at most \(depthLimit + 1)")
        }
        let first = members[0].bundle.manifest
        for (path, bundle) in members {
            let m = bundle.manifest
            guard m.graph == nil else {
                throw ModelBundleError(path: path, problem: "is an imported graph; an ensemble takes built-in networks only")
            }
            guard m.architecture.inputShape == first.architecture.inputShape else {
                throw ModelBundleError(path: path, problem: "takes \(m.architecture.inputShape) patches, \(members[0].path) takes \(first.architecture.inputShape)")
            }
            guard m.normalization == first.normalization else {
                throw ModelBundleError(path: path, problem: "normalises its input differently from \(members[0].path) (mean \(m.normalization.mean), std \(m.normalization.std))")
            }
            guard abs(m.micronsPerPixel - first.micronsPerPixel) <= 1e-9 * first.micronsPerPixel else {
                throw ModelBundleError(path: path, problem: "is for \(m.micronsPerPixel) µm per pixel, \(members[0].path) for \(first.micronsPerPixel)")
            }
        }
        func renamed(_ layers: [LayerSpec], _ prefix: String) -> [LayerSpec] {
            layers.map { layer in
                var layer = layer
                layer.name = prefix + layer.name
                layer.layers = layer.layers.map { renamed($0, prefix) }
                layer.shortcut = layer.shortcut.map { renamed($0, prefix) }
                return layer
            }
        }
        let chains = members.indices.map { renamed(members[$0].bundle.manifest.architecture.layers, "m\($0 + 1)_") }
        var sum = chains.last!
        for k in stride(from: members.count - 2, through: 0, by: -1) {
            sum = [.residual(k == 0 ? "members" : "members\(k + 1)", chains[k], shortcut: sum)]
        }
        let spec = ModelSpec(name: "ensemble of \(members.count)", inputShape: first.architecture.inputShape,
                             layers: sum + [.dense("mean", 1)])
        var weights: [String: Tensor<Float>] = [
            "mean.kernel": Tensor(shape: [1, 1], data: [1 / Float(members.count)]),
            "mean.bias": Tensor(shape: [1], data: [0]),
        ]
        for (k, member) in members.enumerated() {
            for (key, value) in member.bundle.network.weights() { weights["m\(k + 1)_\(key)"] = value }
        }
        let network: Network<Float>
        do {
            network = try Network<Float>(spec: spec)
            try network.loadWeights(weights)
        } catch {
            throw ModelBundleError(path: name, problem: "the members do not combine: \(error.message)")
        }
        let manifest = ModelManifest(name: name, architecture: spec, micronsPerPixel: first.micronsPerPixel,
                                     normalization: first.normalization, threshold: 0.5,
                                     training: .object(["ensembleOf": .array(members.map { .string($0.path) }),
                                                        "combination": .string("mean of the members' logits")]))
        return ModelBundle(manifest: manifest, network: network)
    }
}
