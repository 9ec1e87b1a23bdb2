import Foundation
import Imaging
import Neural

/// Settings of a training run; recorded in the bundle and checked on `--resume`.
public struct TrainingOptions: Sendable, Codable, Equatable {
    /// A built-in architecture name or the path of a ModelSpec JSON file.
    public var architecture = "compact"
    public var epochs = 20
    public var batchSize = 64
    public var learningRate = 2e-3
    public var weightDecay = 1e-4
    /// "adamw", "adam" or "sgd" (momentum 0.9).
    public var optimizer = "adamw"
    /// "cosine" (with warm-up), "step" (×0.1 every third of the run) or "constant".
    public var schedule = "cosine"
    public var warmupEpochs = 1
    public var seed: UInt64 = 0
    public var augment = true
    /// Freeze every layer before this one (e.g. "block5_conv1" for VGG16).
    public var trainableFrom: String?
    /// A bundle whose architecture and weights training starts from (an imported graph must be
    /// a sequential chain of built-in layers); its normalisation and µm per pixel are kept.
    public var initFrom: String?
    /// Stop after this many epochs without a better validation AUC.
    public var patience = 6
    /// Weight of the tumour class in the loss (1 = unweighted).
    public var positiveWeight = 1.0
    /// µm per pixel of the patches (PCam: 0.972).
    public var micronsPerPixel = 0.972
    /// The augmentations when `augment` is on; nil (as in runs before it existed) means `.standard`.
    public var augmentation: Augmentation?
    /// Label smoothing ε: training targets become y·(1 − ε) + ε/2. Nil (or 0) for none.
    public var labelSmoothing: Double?
    /// Decay of an exponential moving average of the weights (and batch-norm statistics),
    /// updated after every step; validation, the epoch choice and the bundle then use the
    /// average. Nil for none.
    public var weightAverageDecay: Double?
    /// Mixup's α: each training patch and its target are blended with another of the batch by
    /// λ ~ Beta(α, α) (see `Mixup`). Nil for none.
    public var mixupAlpha: Double?

    public init() {}

    /// The augmentations in effect.
    public var effectiveAugmentation: Augmentation { augmentation ?? .standard }

    /// What is wrong with these settings, or nil when a run can use them. The command line
    /// checks the same things before it gets here; library callers get the message as a
    /// `DatasetError` from `Trainer.run` instead of a crash in the middle of a run.
    public var problem: String? {
        if epochs < 1 || batchSize < 1 { return "epochs and the batch size must be at least 1 (epochs \(epochs), batch \(batchSize))" }
        if !(learningRate > 0 && learningRate.isFinite) { return "the learning rate must be a positive number, not \(learningRate)" }
        if let e = labelSmoothing, !(0..<1).contains(e) { return "label smoothing must be at least 0 and below 1, not \(e)" }
        if let d = weightAverageDecay, !(0..<1).contains(d) { return "the weight-average decay must be at least 0 and below 1, not \(d)" }
        if let a = mixupAlpha, !(a > 0 && a.isFinite) { return "mixup's α must be a positive number, not \(a)" }
        return nil
    }

    /// The settings that must not change between a checkpoint and a resumed run (the
    /// learning-rate schedule depends on the number of epochs, so that is one of them).
    func compatible(with other: TrainingOptions) -> Bool {
        var a = self, b = other
        a.patience = 0; b.patience = 0
        a.augmentation = a.effectiveAugmentation; b.augmentation = b.effectiveAugmentation
        return a == b
    }
}

/// One epoch of a run, as written to history.json.
public struct EpochRecord: Sendable, Codable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationLoss: Double
    public var validationAccuracy: Double
    public var validationAUC: Double
    public var learningRate: Double
    public var seconds: Double
    public var patchesPerSecond: Double
}

/// What a training run reports while it works.
public enum TrainingEvent: Sendable {
    case loading(patches: Int)
    case resumed(fromEpoch: Int)
    case batch(epoch: Int, epochs: Int, batch: Int, batches: Int, runningLoss: Double, patchesPerSecond: Double, etaSeconds: Double)
    case epochEnd(EpochRecord, isBest: Bool)
    case earlyStop(epoch: Int, bestEpoch: Int)
}

/// The outcome of a run.
public struct TrainingResult: Sendable {
    public var bundle: URL
    public var history: [EpochRecord]
    public var bestEpoch: Int
    public var threshold: Double
    public var validationAUC: Double
    public var seconds: Double
}

/// Trains a network on a dataset's train subset, choosing the epoch by validation AUC.
///
/// Each epoch shuffles the train subset with a generator seeded by (seed, epoch) and augments
/// each patch (see `PatchAugmenter`), so a run is reproducible and a resumed run takes the
/// same path as an uninterrupted one. After every epoch the state is checkpointed to
/// `NAME.hsmodel.checkpoint/`; the best epoch's weights become the bundle.
public final class Trainer {
    public let dataset: PatchDataset
    public let split: DatasetSplit
    public let options: TrainingOptions
    public let splitPath: String?
    /// Stops after this epoch as if interrupted (checkpoint written, no bundle); for tests.
    public var interruptAfterEpoch: Int?
    /// The datasets combined into `dataset`, with their roles, for the bundle's provenance.
    public var sources: [DatasetManifest.Contribution] = []

    public init(dataset: PatchDataset, split: DatasetSplit, options: TrainingOptions, splitPath: String? = nil) {
        self.dataset = dataset
        self.split = split
        self.options = options
        self.splitPath = splitPath
    }

    public static func architecture(_ name: String) throws(DatasetError) -> ModelSpec {
        if let spec = ModelSpec.builtin(name) { return spec }
        guard let data = FileManager.default.contents(atPath: name) else {
            throw DatasetError(path: name, problem: "unknown architecture; choose \(ModelSpec.builtinNames.joined(separator: ", ")) or give a ModelSpec JSON file")
        }
        do {
            return try JSONDecoder().decode(ModelSpec.self, from: data)
        } catch {
            throw DatasetError(path: name, problem: "not a valid ModelSpec JSON: \(error)")
        }
    }

    struct CheckpointState: Codable {
        var options: TrainingOptions
        var completedEpochs: Int
        var optimizerStep: Int
        var history: [EpochRecord]
        var bestEpoch: Int
        var bestAUC: Double
        var normalization: InputNormalization
        var elapsedSeconds: Double
    }

    public func run(output: URL, resume: Bool, events: (TrainingEvent) -> Void) throws -> TrainingResult {
        let started = Date()
        if let problem = options.problem { throw DatasetError(path: output.path, problem: problem) }
        let trainIndices = split.indices(of: .train, in: dataset)
        let validationIndices = split.indices(of: .validation, in: dataset)
        guard !trainIndices.isEmpty, !validationIndices.isEmpty else {
            throw DatasetError(path: splitPath ?? dataset.root, problem: "the split needs patches in both train and val")
        }
        var spec: ModelSpec
        var initial: (weights: [String: Tensor<Float>], normalization: InputNormalization, mpp: Double)?
        if let path = options.initFrom {
            do {
                let bundle = try ModelBundle.load(from: URL(fileURLWithPath: path))
                if let converted = bundle.convertedNetwork {
                    // Converted when the bundle loaded.
                    spec = converted.spec
                    initial = (converted.weights(), bundle.manifest.normalization, bundle.manifest.micronsPerPixel)
                } else if let graph = bundle.manifest.graph {
                    // Not converted at load: converting here gives the reason, naming the node.
                    let (converted, weights) = try SequentialConversion.convert(graph, weights: bundle.graphWeights, name: bundle.manifest.name)
                    spec = converted
                    initial = (weights, bundle.manifest.normalization, bundle.manifest.micronsPerPixel)
                } else {
                    spec = bundle.network.spec
                    initial = (bundle.network.weights(), bundle.manifest.normalization, bundle.manifest.micronsPerPixel)
                }
            } catch let error as ModelBundleError {
                throw DatasetError(path: path, problem: error.problem, hint: error.hint)
            } catch let error as GraphError {
                throw DatasetError(path: path, problem: error.problem, hint: "fine-tune a sequential network, or train a built-in --arch")
            }
        } else {
            spec = try Self.architecture(options.architecture)
        }
        guard spec.inputShape == [PatchDataset.patchSize, PatchDataset.patchSize, 3] else {
            throw DatasetError(path: options.initFrom ?? options.architecture, problem: "the architecture takes \(spec.inputShape); patches are 96×96×3")
        }
        let network = try Network<Float>(spec: spec, seed: options.seed)
        if let initial {
            do { try network.loadWeights(initial.weights) } catch {
                throw DatasetError(path: options.initFrom!, problem: "its weights do not fit the network: \(error.message)")
            }
        }
        do { try network.setTrainable(from: options.trainableFrom) } catch {
            throw DatasetError(path: options.initFrom ?? options.architecture,
                               problem: "\(error.message) (layers: \(spec.layers.map(\.name).joined(separator: ", ")))")
        }

        events(.loading(patches: trainIndices.count + validationIndices.count))
        let trainPixels = try dataset.loadPixels(trainIndices)
        let validationPixels = try dataset.loadPixels(validationIndices)
        let trainLabels = trainIndices.map { Float(dataset.records[$0].label) }
        let validationLabels = validationIndices.map { dataset.records[$0].label }

        let checkpoint = URL(fileURLWithPath: output.path + ".checkpoint")
        let batch = options.batchSize
        let batchesPerEpoch = (trainIndices.count + batch - 1) / batch
        let totalSteps = batchesPerEpoch * options.epochs
        let schedule: LearningRateSchedule = switch options.schedule {
        case "constant": .constant(options.learningRate)
        case "step": .step(base: options.learningRate, every: max(1, totalSteps / 3), gamma: 0.1)
        default: .cosine(base: options.learningRate, minimum: options.learningRate * 0.01, totalSteps: totalSteps,
                         warmupSteps: options.warmupEpochs * batchesPerEpoch)
        }
        let kind: OptimizerKind = switch options.optimizer {
        case "sgd": .sgd(momentum: 0.9, weightDecay: options.weightDecay)
        case "adam": .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: options.weightDecay)
        default: .adamW(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: options.weightDecay)
        }
        let optimizer = Optimizer<Float>(kind, schedule: schedule)

        var state = CheckpointState(options: options, completedEpochs: 0, optimizerStep: 0, history: [], bestEpoch: 0,
                                    bestAUC: -1, normalization: initial?.normalization ?? Self.normalization(of: trainPixels), elapsedSeconds: 0)
        var bestWeights = network.weights()
        // The moving average of the weights, when asked for: it starts at the initial weights.
        var average: [String: Tensor<Float>]? = options.weightAverageDecay == nil ? nil : bestWeights
        if resume, let saved = try Self.loadCheckpoint(checkpoint, network: network, optimizer: optimizer) {
            guard saved.state.options.compatible(with: options) else {
                throw DatasetError(path: checkpoint.path, problem: "the checkpoint was made with other settings",
                                   hint: "resume with the same options as the interrupted run, or start afresh without --resume")
            }
            state = saved.state
            state.options = options
            bestWeights = saved.best
            if average != nil {
                guard let saved = saved.average else {
                    throw DatasetError(path: checkpoint.path, problem: "the checkpoint has no weight average", hint: "start afresh without --resume")
                }
                average = saved
            }
            events(.resumed(fromEpoch: state.completedEpochs))
        }
        let augmenter = PatchAugmenter(normalization: state.normalization, augment: options.augment,
                                       augmentation: options.effectiveAugmentation)

        var input = [Float](repeating: 0, count: batch * 96 * 96 * 3)
        var epoch = state.completedEpochs
        var sinceBest = state.history.count - state.bestEpoch
        while epoch < options.epochs && !(state.bestEpoch > 0 && sinceBest >= options.patience) {
            epoch += 1
            let epochStart = Date()
            var generator = SplitMix64(seed: options.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch))
            let order = DatasetSplit.shuffled(Array(0..<trainIndices.count), using: &generator)
            var lossSum = 0.0, correct = 0, seen = 0
            for b in 0..<batchesPerEpoch {
                let members = Array(order[(b * batch)..<min(order.count, (b + 1) * batch)])
                let n = members.count
                var gathered = [UInt8](repeating: 0, count: n * 96 * 96 * 3)
                trainPixels.withUnsafeBufferPointer { src in
                    for (k, m) in members.enumerated() {
                        for i in 0..<(96 * 96 * 3) { gathered[k * 96 * 96 * 3 + i] = src[m * 96 * 96 * 3 + i] }
                    }
                }
                input.withUnsafeMutableBufferPointer { dst in
                    gathered.withUnsafeBufferPointer { augmenter.fill(dst.baseAddress!, from: $0.baseAddress!, count: n, generator: &generator) }
                }
                var labels = members.map { trainLabels[$0] }
                if let alpha = options.mixupAlpha {
                    labels = input.withUnsafeMutableBufferPointer {
                        Mixup(alpha: alpha).mix($0.baseAddress!, targets: labels, size: 96 * 96 * 3, generator: &generator)
                    }
                }
                let x = Tensor<Float>(shape: [n, 96, 96, 3], data: Array(input.prefix(n * 96 * 96 * 3)))
                let smoothing = Float(options.labelSmoothing ?? 0)
                let targets = smoothing == 0 ? labels : labels.map { $0 * (1 - smoothing) + smoothing / 2 }
                network.zeroGradients()
                let logits = network.forward(x, mode: .training)
                let (loss, dLogits) = BinaryCrossEntropy.lossAndGradient(logits: logits, labels: targets,
                                                                         positiveWeight: Float(options.positiveWeight))
                guard loss.isFinite else {
                    throw DatasetError(path: output.path, problem: "the loss became \(loss) in epoch \(epoch), batch \(b + 1)",
                                       hint: "lower --lr")
                }
                network.backward(dLogits)
                optimizer.update(network.trainableParameters)
                if let decay = options.weightAverageDecay, average != nil {
                    // Bias-corrected early on (as in TensorFlow's ExponentialMovingAverage with num_updates).
                    let step = Double(optimizer.step)
                    Self.updateAverage(&average!, with: network.weights(), decay: Float(min(decay, (1 + step) / (10 + step))))
                }
                lossSum += Double(loss) * Double(n)
                seen += n
                // Against the larger share of each (possibly blended) target.
                for (z, y) in zip(logits.data, labels) where (z >= 0) == (y > 0.5) { correct += 1 }
                let elapsed = Date().timeIntervalSince(epochStart)
                let rate = Double(seen) / max(elapsed, 1e-9)
                let remaining = Double(trainIndices.count - seen) / rate
                    + Double(options.epochs - epoch) * Double(trainIndices.count) / rate
                events(.batch(epoch: epoch, epochs: options.epochs, batch: b + 1, batches: batchesPerEpoch,
                              runningLoss: lossSum / Double(seen), patchesPerSecond: rate, etaSeconds: remaining))
            }
            let trainSeconds = Date().timeIntervalSince(epochStart)
            // With a weight average, validation judges the average; training goes on from the live weights.
            let live = average == nil ? nil : network.weights()
            if let average { try network.loadWeights(average) }
            let probabilities = Self.predict(network, pixels: validationPixels, count: validationIndices.count, augmenter: augmenter)
            if let live { try network.loadWeights(live) }
            guard probabilities.allSatisfy(\.isFinite) else {
                throw DatasetError(path: output.path, problem: "the network's outputs became NaN or infinite in epoch \(epoch): training diverged",
                                   hint: "lower --lr; the checkpoint after epoch \(epoch - 1) is kept in \(checkpoint.lastPathComponent)")
            }
            let auc = Metrics.auc(probabilities, validationLabels)
            let record = EpochRecord(
                epoch: epoch, trainLoss: lossSum / Double(seen), trainAccuracy: Double(correct) / Double(seen),
                validationLoss: Metrics.logLoss(probabilities, validationLabels),
                validationAccuracy: Confusion(probabilities: probabilities, labels: validationLabels, threshold: 0.5).accuracy,
                validationAUC: auc, learningRate: optimizer.currentRate, seconds: Date().timeIntervalSince(epochStart),
                patchesPerSecond: Double(seen) / trainSeconds)
            state.history.append(record)
            let isBest = auc > state.bestAUC
            if isBest {
                state.bestAUC = auc
                state.bestEpoch = epoch
                bestWeights = average ?? network.weights()
                sinceBest = 0
            } else {
                sinceBest += 1
            }
            state.completedEpochs = epoch
            state.optimizerStep = optimizer.step
            state.elapsedSeconds += Date().timeIntervalSince(epochStart)
            try Self.saveCheckpoint(checkpoint, state: state, network: network, optimizer: optimizer, best: bestWeights,
                                    average: average)
            events(.epochEnd(record, isBest: isBest))
            if epoch == interruptAfterEpoch {
                return TrainingResult(bundle: output, history: state.history, bestEpoch: state.bestEpoch, threshold: .nan,
                                      validationAUC: state.bestAUC, seconds: state.elapsedSeconds)
            }
        }
        if sinceBest >= options.patience && epoch < options.epochs { events(.earlyStop(epoch: epoch, bestEpoch: state.bestEpoch)) }

        // The bundle: the best epoch's weights, with a threshold chosen on validation data.
        try network.loadWeights(bestWeights)
        let probabilities = Self.predict(network, pixels: validationPixels, count: validationIndices.count, augmenter: augmenter)
        let threshold = Metrics.youdenThreshold(probabilities, validationLabels)
        let confusion = Confusion(probabilities: probabilities, labels: validationLabels, threshold: threshold)
        let seconds = state.elapsedSeconds
        let training = provenance(state: state, spec: spec, network: network, trainCount: trainIndices.count,
                                  validationCount: validationIndices.count, started: started, seconds: seconds)
        let metrics: JSONValue = .object(["validation": .object([
            "auc": .number(Metrics.auc(probabilities, validationLabels)), "threshold": .number(threshold),
            "accuracy": .number(confusion.accuracy), "sensitivity": .number(confusion.sensitivity),
            "specificity": .number(confusion.specificity), "patches": .number(Double(validationIndices.count)),
        ])])
        let name = output.deletingPathExtension().lastPathComponent
        let manifest = ModelManifest(name: name, architecture: spec, micronsPerPixel: initial?.mpp ?? options.micronsPerPixel,
                                     normalization: state.normalization, threshold: threshold, training: training, metrics: metrics)
        try ModelBundle(manifest: manifest, network: network).save(to: output)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(state.history)), to: output.appendingPathComponent("history.json"))
        try PNG.write(Self.curves(state.history, bestEpoch: state.bestEpoch).raster, to: output.appendingPathComponent("curves.png"))
        return TrainingResult(bundle: output, history: state.history, bestEpoch: state.bestEpoch, threshold: threshold,
                              validationAUC: state.bestAUC, seconds: seconds)
    }

    private func provenance(state: CheckpointState, spec: ModelSpec, network: Network<Float>, trainCount: Int,
                            validationCount: Int, started: Date, seconds: Double) -> JSONValue {
        let encoder = JSONEncoder()
        let optionsJSON = (try? JSONDecoder().decode(JSONValue.self, from: encoder.encode(options))) ?? .null
        let formatter = ISO8601DateFormatter()
        var splitInfo: [String: JSONValue] = [:]
        if let splitPath {
            splitInfo["path"] = .string(splitPath)
            splitInfo["sha256"] = SHA256.hex(fileAt: URL(fileURLWithPath: splitPath)).map(JSONValue.string) ?? .null
        }
        splitInfo["train"] = .number(Double(trainCount))
        splitInfo["val"] = .number(Double(validationCount))
        splitInfo["test"] = .number(Double(split.indices(of: .test, in: dataset).count))
        let sourcesJSON = (try? JSONDecoder().decode(JSONValue.self, from: encoder.encode(sources))) ?? .null
        return .object([
            "sources": sourcesJSON,
            "augmentation": .string(options.augment ? options.effectiveAugmentation.summary : "none"),
            "dataset": .object(["path": .string(dataset.root), "layout": .string(dataset.layout.rawValue),
                                "patches": .number(Double(dataset.records.count)), "positives": .number(Double(dataset.positives)),
                                "negatives": .number(Double(dataset.negatives))]),
            "split": .object(splitInfo),
            "options": optionsJSON,
            "seed": .number(Double(options.seed)),
            "epochsRun": .number(Double(state.history.count)),
            "bestEpoch": .number(Double(state.bestEpoch)),
            "trainableParameters": .number(Double(network.parameterCount(trainableOnly: true))),
            "flopsPerPatch": .number(Double(network.flopsPerSample)),
            "trainingSeconds": .number(seconds),
            "finished": .string(formatter.string(from: Date())),
            "threads": .number(Double(Threading.threadCount)),
            "kernels": .string(KernelSet.activeDescription),
        ])
    }

    /// Channel means and standard deviations of the training pixels, in [0, 1] units.
    static func normalization(of pixels: [UInt8]) -> InputNormalization {
        var sum = [Double](repeating: 0, count: 3), sq = sum
        let n = pixels.count / 3
        for i in 0..<n {
            for c in 0..<3 {
                let v = Double(pixels[3 * i + c]) / 255
                sum[c] += v; sq[c] += v * v
            }
        }
        let mean = sum.map { $0 / Double(n) }
        let std = (0..<3).map { max(1e-3, (sq[$0] / Double(n) - mean[$0] * mean[$0]).squareRoot()) }
        return InputNormalization(mean: mean, std: std)
    }

    /// σ(logit) for `count` patches, through the inference engine (the same path screening
    /// uses), averaged over the dihedral `views`.
    public static func predict(_ network: Network<Float>, pixels: [UInt8], count: Int, augmenter: PatchAugmenter,
                               views: [Int] = [0]) -> [Double] {
        let engine = InferenceEngine(network: network)
        var out = [Double](repeating: 0, count: count)
        for view in views {
            let z = logits(engine, pixels: pixels, count: count, augmenter: augmenter, view: view)
            for i in 0..<count { out[i] += Double(BinaryCrossEntropy.sigmoid(z[i])) / Double(views.count) }
        }
        return out
    }

    /// The engine's logits for `count` patches seen in dihedral `view`, normalised without
    /// augmentation and run in batches of 128.
    public static func logits(_ engine: InferenceEngine, pixels: [UInt8], count: Int, augmenter: PatchAugmenter,
                              view: Int = 0) -> [Float] {
        let size = 96 * 96 * 3
        var out: [Float] = []
        out.reserveCapacity(count)
        var start = 0
        while start < count {
            let n = min(128, count - start)
            var input = [Float](repeating: 0, count: n * size)
            input.withUnsafeMutableBufferPointer { dst in
                pixels.withUnsafeBufferPointer { src in
                    augmenter.normalize(dst.baseAddress!, from: src.baseAddress! + start * size, count: n, view: view)
                }
            }
            out += input.withUnsafeBufferPointer { engine.logits($0.baseAddress!, count: n) }
            start += n
        }
        return out
    }

    /// Loss and accuracy per epoch, training and validation, as the seed project plotted them.
    public static func curves(_ history: [EpochRecord], bestEpoch: Int) -> Canvas {
        let epochs = history.map { Double($0.epoch) }
        var loss = LineChart(title: "Loss", xLabel: "epoch", yLabel: "binary cross-entropy", series: [
            .init("training", Array(zip(epochs, history.map(\.trainLoss))), color: .blue),
            .init("validation", Array(zip(epochs, history.map(\.validationLoss))), color: .vermillion),
        ])
        loss.notes = ["best epoch \(bestEpoch)"]
        var accuracy = LineChart(title: "Accuracy", xLabel: "epoch", yLabel: "accuracy", series: [
            .init("training", Array(zip(epochs, history.map(\.trainAccuracy))), color: .blue),
            .init("validation", Array(zip(epochs, history.map(\.validationAccuracy))), color: .vermillion),
            .init("validation AUC", Array(zip(epochs, history.map(\.validationAUC))), color: .green, dashed: true),
        ])
        accuracy.notes = history.first { $0.epoch == bestEpoch }.map { [String(format: "best AUC %.3f", $0.validationAUC)] } ?? []
        return Canvas.row([loss.render(width: 560, height: 400), accuracy.render(width: 560, height: 400)])
    }

    // MARK: Checkpoints

    /// average = decay·average + (1 − decay)·current, tensor by tensor.
    static func updateAverage(_ average: inout [String: Tensor<Float>], with current: [String: Tensor<Float>], decay: Float) {
        for (name, w) in current {
            guard var a = average[name], a.count == w.count else { average[name] = w; continue }
            average[name] = nil  // so that `a` is uniquely referenced and updated in place
            a.data.withUnsafeMutableBufferPointer { p in
                w.data.withUnsafeBufferPointer { q in for i in p.indices { p[i] = decay * p[i] + (1 - decay) * q[i] } }
            }
            average[name] = a
        }
    }

    static func saveCheckpoint(_ url: URL, state: CheckpointState, network: Network<Float>, optimizer: Optimizer<Float>,
                               best: [String: Tensor<Float>], average: [String: Tensor<Float>]? = nil) throws {
        let fm = FileManager.default
        let temp = URL(fileURLWithPath: url.path + ".tmp")
        try? fm.removeItem(at: temp)
        try fm.createDirectory(at: temp, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).write(to: temp.appendingPathComponent("state.json"))
        try Data(Safetensors.encode(network.weights())).write(to: temp.appendingPathComponent("weights.safetensors"))
        try Data(Safetensors.encode(best)).write(to: temp.appendingPathComponent("best.safetensors"))
        if let average { try Data(Safetensors.encode(average)).write(to: temp.appendingPathComponent("average.safetensors")) }
        let moments = optimizer.state(for: network.parameters)
        var tensors: [String: Tensor<Float>] = [:]
        for (k, v) in moments.first { tensors["m/" + k] = Tensor(shape: [v.count], data: v) }
        for (k, v) in moments.second { tensors["v/" + k] = Tensor(shape: [v.count], data: v) }
        try Data(Safetensors.encode(tensors)).write(to: temp.appendingPathComponent("optimizer.safetensors"))
        // Swap the new checkpoint in: a crash leaves either the old or the new one whole.
        let old = URL(fileURLWithPath: url.path + ".old")
        try? fm.removeItem(at: old)
        if fm.fileExists(atPath: url.path) { try fm.moveItem(at: url, to: old) }
        try fm.moveItem(at: temp, to: url)
        try? fm.removeItem(at: old)
    }

    static func loadCheckpoint(_ url: URL, network: Network<Float>, optimizer: Optimizer<Float>) throws
        -> (state: CheckpointState, best: [String: Tensor<Float>], average: [String: Tensor<Float>]?)? {
        let fm = FileManager.default
        var dir = url
        if !fm.fileExists(atPath: dir.path) {
            let old = URL(fileURLWithPath: url.path + ".old")
            guard fm.fileExists(atPath: old.path) else { return nil }
            dir = old
        }
        let state = try JSONDecoder().decode(CheckpointState.self, from: Data(contentsOf: dir.appendingPathComponent("state.json")))
        func tensors(_ name: String) throws -> [String: Tensor<Float>] {
            let path = dir.appendingPathComponent(name)
            return try Safetensors.decode([UInt8](Data(contentsOf: path)), path: path.path, as: Float.self).tensors
        }
        try network.loadWeights(try tensors("weights.safetensors"))
        let moments = try tensors("optimizer.safetensors")
        var first: [String: [Float]] = [:], second: [String: [Float]] = [:]
        for (k, v) in moments {
            if k.hasPrefix("m/") { first[String(k.dropFirst(2))] = v.data } else if k.hasPrefix("v/") { second[String(k.dropFirst(2))] = v.data }
        }
        optimizer.restore(step: state.optimizerStep, first: first, second: second, parameters: network.parameters)
        let hasAverage = fm.fileExists(atPath: dir.appendingPathComponent("average.safetensors").path)
        return (state, try tensors("best.safetensors"), hasAverage ? try tensors("average.safetensors") : nil)
    }
}
