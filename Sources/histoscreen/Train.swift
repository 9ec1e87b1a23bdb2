import ArgumentParser
import Foundation
import Neural
import Training

/// `histoscreen train DATASET --split split.csv --out NAME.hsmodel`.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a patch classifier and write a model bundle.",
        discussion: """
            Trains on the split's train subset with dihedral and colour augmentation, reports validation loss, \
            accuracy and AUC after each epoch, keeps the epoch with the best validation AUC (stopping early after \
            --patience epochs without improvement), and picks the decision threshold on validation data. Writes \
            NAME.hsmodel/ (model.json, weights.safetensors, history.json, curves.png) and a checkpoint folder \
            NAME.hsmodel.checkpoint/ after every epoch, from which --resume continues.
            """
    )

    @Argument(help: "The labelled patch dataset (see `histoscreen split --help`); its --split gives each patch's role.")
    var dataset: String?

    @Option(help: "The split CSV from `histoscreen split`, for DATASET.")
    var split: String?

    @Option(help: ArgumentHelp("A CSV of datasets with roles (columns path,role[,split,subsets]; roles train, val, test, split).",
                               discussion: "See docs/datasets.md. Combines with --train-data and --val-data."))
    var manifest: String?

    @Option(help: "A whole dataset to train on (repeatable).") var trainData: [String] = []
    @Option(help: "A whole dataset to validate on: it chooses the epoch and the threshold (repeatable).") var valData: [String] = []

    @Option(help: "The model bundle to write (NAME.hsmodel).")
    var out: String

    @Option(help: "Architecture: \(ModelSpec.builtinNames.joined(separator: ", ")), or a ModelSpec JSON file.")
    var arch = "compact"

    @Option(help: "Maximum number of epochs.") var epochs = 20
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Peak learning rate.") var lr = 2e-3
    @Option(help: "Weight decay.") var weightDecay = 1e-4
    @Option(help: "adamw, adam or sgd.") var optimizer = "adamw"
    @Option(help: "cosine (with a one-epoch warm-up), step or constant.") var schedule = "cosine"
    @Option(help: "Seed of initialisation, shuffling and augmentation.") var seed: UInt64 = 0
    @Option(help: "Epochs without a better validation AUC before stopping.") var patience = 6
    @Option(help: "Loss weight of the tumour class.") var positiveWeight = 1.0
    @Option(help: "Label smoothing ε: targets become y·(1 − ε) + ε/2 (0: none).") var labelSmoothing = 0.0
    @Option(help: "Keep an exponential moving average of the weights with this decay (e.g. 0.999); validation and the bundle use it.")
    var weightAverage: Double?
    @Option(help: "Mixup α: blend each training patch and its label with another of the batch by λ ~ Beta(α, α) (e.g. 0.2).")
    var mixup: Double?
    @Option(help: "Freeze the layers before this one (e.g. block5_conv1 for vgg16).") var trainableFrom: String?
    @Option(name: .customLong("init"), help: "Start from this bundle's architecture and weights (built-in, or an imported sequential graph), keeping its normalisation and µm per pixel.")
    var initFrom: String?
    @Option(help: "µm per pixel of the patches (PCam: 0.972).") var mpp = 0.972
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @Option(help: "Augmentations: standard (d4,jitter), robust (all), none, or a list of \(Augmentation.names.joined(separator: ",")).")
    var augment = "standard"
    @Flag(help: "Turn augmentation off (the same as --augment none).") var noAugment = false
    @Flag(help: "Continue an interrupted run from NAME.hsmodel.checkpoint/.") var resume = false
    @Flag(help: "Go on when listed files are missing (they are counted).") var skipMissing = false
    @Flag(help: "No progress bar.") var quiet = false
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        guard ["adamw", "adam", "sgd"].contains(optimizer) else { throw ValidationError("--optimizer must be adamw, adam or sgd") }
        guard ["cosine", "step", "constant"].contains(schedule) else { throw ValidationError("--schedule must be cosine, step or constant") }
        guard epochs >= 1, batch >= 1, lr > 0 else { throw ValidationError("--epochs, --batch and --lr must be positive") }
        guard (0..<1).contains(labelSmoothing) else { throw ValidationError("--label-smoothing must be at least 0 and below 1") }
        if let weightAverage, !(0..<1).contains(weightAverage) { throw ValidationError("--weight-average must be at least 0 and below 1") }
        if let mixup, !(mixup > 0 && mixup.isFinite) { throw ValidationError("--mixup must be a positive number") }
        if ModelSpec.builtin(arch) == nil && !FileManager.default.fileExists(atPath: arch) {
            throw ValidationError("unknown architecture '\(arch)': choose \(ModelSpec.builtinNames.joined(separator: ", ")), or give a ModelSpec JSON file")
        }
        if dataset != nil && split == nil { throw ValidationError("DATASET needs --split (or list it in a --manifest with a role)") }
        if dataset == nil && split != nil { throw ValidationError("--split goes with a DATASET argument") }
        if dataset == nil && manifest == nil && trainData.isEmpty {
            throw ValidationError("give the data: DATASET --split FILE, --manifest FILE, or --train-data and --val-data")
        }
    }

    /// Every dataset given, as manifest entries.
    func entries() throws(DatasetError) -> (entries: [DatasetManifest.Entry], source: String?) {
        var entries: [DatasetManifest.Entry] = []
        var source: String?
        if let dataset, let split { entries.append(.init(path: dataset, role: .split, split: split)) }
        if let manifest {
            let m = try DatasetManifest.read(manifest)
            entries += m.entries
            source = manifest
        }
        entries += trainData.map { .init(path: $0, role: .train) }
        entries += valData.map { .init(path: $0, role: .validation) }
        return (entries, source)
    }

    func run() throws {
        if let threads { Threading.threadCount = threads }
        var options = TrainingOptions()
        options.architecture = arch
        options.epochs = epochs
        options.batchSize = batch
        options.learningRate = lr
        options.weightDecay = weightDecay
        options.optimizer = optimizer
        options.schedule = schedule
        options.seed = seed
        options.patience = patience
        options.positiveWeight = positiveWeight
        options.labelSmoothing = labelSmoothing == 0 ? nil : labelSmoothing
        options.weightAverageDecay = weightAverage
        options.mixupAlpha = mixup
        options.trainableFrom = trainableFrom
        options.initFrom = initFrom
        options.micronsPerPixel = mpp
        let progress = ProgressBar(enabled: !quiet)
        do {
            let augmentation = try Augmentation(parsing: noAugment ? "none" : augment)
            options.augment = augmentation.dihedral || augmentation.colorJitter || augmentation.usesRobustTransforms
            options.augmentation = augmentation == .standard ? nil : augmentation
            let (list, source) = try entries()
            let (data, assignment, contributions) = try DatasetManifest(entries: list, source: source).load(skipMissing: skipMissing)
            if !quiet {
                for c in contributions {
                    progress.message("\(c.path): \(c.train) train, \(c.validation) val, \(c.test) held out (\(c.positives) label 1)")
                }
            }
            let trainer = Trainer(dataset: data, split: assignment, options: options, splitPath: list.count == 1 ? list[0].split : source)
            trainer.sources = contributions
            let result = try trainer.run(output: URL(fileURLWithPath: out), resume: resume) { event in
                switch event {
                case let .loading(patches):
                    progress.message("loading \(patches) patches")
                case let .resumed(epoch):
                    progress.message("resuming after epoch \(epoch)")
                case let .batch(epoch, epochs, batch, batches, loss, rate, eta):
                    progress.update("epoch \(epoch)/\(epochs)", done: batch, total: batches,
                                    detail: String(format: "loss %.4f  %.0f patches/s  ETA %@", loss, rate, formatDuration(eta)))
                case let .epochEnd(r, isBest):
                    progress.finish(String(format: "epoch %d: train loss %.4f acc %.3f | val loss %.4f acc %.3f AUC %.4f | lr %.2e | %@%@",
                                           r.epoch, r.trainLoss, r.trainAccuracy, r.validationLoss, r.validationAccuracy,
                                           r.validationAUC, r.learningRate, formatDuration(r.seconds), isBest ? "  *best" : ""))
                case let .earlyStop(epoch, best):
                    progress.message("stopping early after epoch \(epoch): no better validation AUC since epoch \(best)")
                }
            }
            if json {
                struct Report: Encodable { var bundle: String; var bestEpoch: Int; var validationAUC: Double; var threshold: Double; var seconds: Double; var history: [EpochRecord] }
                print(try encodeJSON(Report(bundle: out, bestEpoch: result.bestEpoch, validationAUC: result.validationAUC,
                                            threshold: result.threshold, seconds: result.seconds, history: result.history)))
            } else {
                print(String(format: "wrote %@: best epoch %d, validation AUC %.4f, threshold %.3f, %@", out, result.bestEpoch,
                             result.validationAUC, result.threshold, formatDuration(result.seconds)))
            }
        } catch let error as DatasetError {
            progress.finish()
            printError(error.description)
            throw ExitCode(1)
        } catch let error as ModelSpecError {
            progress.finish()
            printError("\(arch): \(error.message)")
            throw ExitCode(1)
        }
    }
}
