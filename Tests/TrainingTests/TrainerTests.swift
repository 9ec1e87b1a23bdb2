import Foundation
import Neural
import Testing
import Training
import _TestSupport

/// Training on the 200 committed PCam patches with a small network: a few seconds.
@Suite(.serialized) struct TrainerTests {
    static let tinySpec = ModelSpec(name: "tiny", inputShape: [96, 96, 3], layers: [
        .conv("block1_conv1", 32, bias: false), .batchNorm("block1_bn1"), .relu("block1_relu1"), .maxPool("block1_pool"),
        .conv("block2_conv1", 32, bias: false), .batchNorm("block2_bn1"), .relu("block2_relu1"), .maxPool("block2_pool"),
        .globalAveragePool("gap"), .dense("logit", 1),
    ])

    struct Setup {
        let dir = TemporaryDirectory()
        let data: PatchDataset
        let split: DatasetSplit
        var options = TrainingOptions()

        init(epochs: Int) throws {
            data = try PatchDataset.open(TestPaths.fixtures.appendingPathComponent("pcam-mini/labels.csv").path)
            split = try DatasetSplit.make(data, ratios: [0.6, 0.2, 0.2], seed: 11)
            let specURL = dir.file("tiny.json")
            try JSONEncoder().encode(TrainerTests.tinySpec).write(to: specURL)
            options.architecture = specURL.path
            options.epochs = epochs
            options.batchSize = 16
            options.learningRate = 3e-3
            options.seed = 4
            options.patience = 100
        }

        /// Trains with these settings into DIR/NAME, stopping after `interruptAfter` epochs
        /// (checkpoint, no bundle) when given.
        @discardableResult
        func train(_ name: String, options: TrainingOptions? = nil, resume: Bool = false, interruptAfter: Int? = nil,
                   events: (TrainingEvent) -> Void = { _ in }) throws -> TrainingResult {
            let trainer = Trainer(dataset: data, split: split, options: options ?? self.options)
            trainer.interruptAfterEpoch = interruptAfter
            return try trainer.run(output: dir.file(name), resume: resume, events: events)
        }

        /// The same run stopped after `epoch` epochs and resumed from its checkpoint.
        func trainResumed(_ name: String, interruptingAfter epoch: Int) throws -> TrainingResult {
            try train(name, interruptAfter: epoch)
            return try train(name, resume: true)
        }

        func weights(_ name: String) throws -> [String: Tensor<Float>] {
            try ModelBundle.load(from: dir.file(name)).network.weights()
        }
    }

    @Test func trainingLowersTheLossAndBeatsChance() throws {
        let s = try Setup(epochs: 6)
        let out = s.dir.file("tiny.hsmodel")
        let result = try s.train("tiny.hsmodel")
        let first = result.history.first!, last = result.history.last!
        #expect(last.trainLoss < first.trainLoss, "train loss \(first.trainLoss) → \(last.trainLoss)")
        #expect(result.validationAUC > 0.7, "validation AUC \(result.validationAUC)")
        // The bundle loads, and on held-out test patches it beats chance.
        let bundle = try ModelBundle.load(from: out)
        #expect(bundle.manifest.threshold > 0 && bundle.manifest.threshold < 1)
        #expect(bundle.manifest.training?["bestEpoch"]?.number == Double(result.bestEpoch))
        let testIndices = s.split.indices(of: .test, in: s.data)
        let report = try Evaluation.run(bundle: bundle, bundlePath: out.path, dataset: s.data, indices: testIndices, subset: "test",
                                        testTimeAugmentation: false, outputDirectory: s.dir.file("eval"), resamples: 100)
        #expect(report.auc.estimate > 0.65, "test AUC \(report.auc)")
        #expect(report.confusion.total == testIndices.count)
        for name in ["history.json", "curves.png", "model.json", "weights.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name)")
        }
        for name in ["metrics.json", "predictions.csv", "roc.png", "calibration.png", "false-negatives.png", "false-positives.png"] {
            #expect(FileManager.default.fileExists(atPath: s.dir.file("eval/\(name)").path), "\(name)")
        }
    }

    /// An interrupted run resumed from its checkpoint ends where an uninterrupted run ends.
    @Test func resumeContinuesExactly() throws {
        let whole = try Setup(epochs: 3)
        let a = try whole.train("a.hsmodel")

        let first = try Setup(epochs: 3)
        let out = first.dir.file("b.hsmodel")
        try first.train("b.hsmodel", interruptAfter: 2)
        #expect(!FileManager.default.fileExists(atPath: out.path), "an interrupted run writes no bundle")
        var resumedFrom = -1
        let b = try first.train("b.hsmodel", resume: true) { event in
            if case let .resumed(epoch) = event { resumedFrom = epoch }
        }
        #expect(resumedFrom == 2)
        #expect(b.history.count == 3)
        for (x, y) in zip(a.history, b.history) {
            #expect(abs(x.trainLoss - y.trainLoss) < 1e-9 && abs(x.validationAUC - y.validationAUC) < 1e-9, "epoch \(x.epoch)")
        }
        let same = try whole.weights("a.hsmodel") == first.weights("b.hsmodel")
        #expect(same, "the resumed run's weights differ from the uninterrupted run's")
        // Other settings cannot resume this checkpoint.
        var other = first.options
        other.learningRate *= 2
        #expect(throws: DatasetError.self) {
            try first.train("b.hsmodel", options: other, resume: true)
        }
    }

    /// The weight average never touches the weights being trained: the training losses are
    /// those of a plain run. With decay 0 the average is the live weights, so validation and the
    /// bundle are the plain run's too; with decay 0.9 validation judges other weights. An
    /// interrupted run with an average resumes exactly.
    @Test func weightAverageJudgesWithoutChangingTraining() throws {
        let plain = try Setup(epochs: 3)
        let a = try plain.train("a.hsmodel")

        var zero = try Setup(epochs: 3)
        zero.options.weightAverageDecay = 0
        let b = try zero.train("b.hsmodel")
        #expect(a.history.map(\.trainLoss) == b.history.map(\.trainLoss))
        #expect(a.history.map(\.validationAUC) == b.history.map(\.validationAUC))
        let same = try plain.weights("a.hsmodel") == zero.weights("b.hsmodel")
        #expect(same)

        var averaged = try Setup(epochs: 3)
        averaged.options.weightAverageDecay = 0.9
        let c = try averaged.train("c.hsmodel")
        #expect(a.history.map(\.trainLoss) == c.history.map(\.trainLoss))
        #expect(a.history.map(\.validationLoss) != c.history.map(\.validationLoss))

        let d = try averaged.trainResumed("d.hsmodel", interruptingAfter: 2)
        #expect(c.history.map(\.validationLoss) == d.history.map(\.validationLoss))
        let resumed = try averaged.weights("c.hsmodel") == averaged.weights("d.hsmodel")
        #expect(resumed, "the resumed run's averaged weights differ")
    }

    /// With ε = 0.9 the targets are 0.55 and 0.45, whose cross-entropy is at least their entropy
    /// H(0.55) = 0.688 whatever the logits; the same run on 0/1 targets goes below it.
    @Test func labelSmoothingSoftensTheTargets() throws {
        let floor = -(0.55 * log(0.55) + 0.45 * log(0.45))
        var s = try Setup(epochs: 4)
        let plain = try s.train("p.hsmodel")
        #expect(plain.history.last!.trainLoss < floor - 0.05)
        s.options.labelSmoothing = 0.9
        let smoothed = try s.train("s.hsmodel")
        for epoch in smoothed.history { #expect(epoch.trainLoss >= floor - 1e-5, "epoch \(epoch.epoch): \(epoch.trainLoss)") }
    }

    /// Mixup changes what the network is trained on (the training losses differ from a plain
    /// run's) and draws only from the run's seeded generator, so an interrupted run resumes
    /// exactly; a checkpoint without mixup cannot be resumed with it.
    @Test func mixupIsSeededAndResumable() throws {
        let plain = try Setup(epochs: 2)
        let a = try plain.train("a.hsmodel")
        var mixed = try Setup(epochs: 2)
        mixed.options.mixupAlpha = 0.4
        let b = try mixed.train("b.hsmodel")
        #expect(a.history.map(\.trainLoss) != b.history.map(\.trainLoss))

        try mixed.train("c.hsmodel", interruptAfter: 1)
        #expect(throws: DatasetError.self) { try mixed.train("c.hsmodel", options: plain.options, resume: true) }
        let c = try mixed.train("c.hsmodel", resume: true)
        #expect(b.history.map(\.trainLoss) == c.history.map(\.trainLoss))
        let same = try mixed.weights("b.hsmodel") == mixed.weights("c.hsmodel")
        #expect(same, "the resumed mixup run's weights differ")
    }

    /// A setting the command line would refuse, set by a library caller instead.
    enum BadSetting: CaseIterable, Sendable {
        case mixupZero, mixupInfinite, fullSmoothing, negativeDecay, nanRate, emptyBatch

        /// The words the error must contain.
        var name: String {
            switch self {
            case .mixupZero, .mixupInfinite: "mixup"
            case .fullSmoothing: "label smoothing"
            case .negativeDecay: "weight-average"
            case .nanRate: "learning rate"
            case .emptyBatch: "batch size"
            }
        }

        func apply(to o: inout TrainingOptions) {
            switch self {
            case .mixupZero: o.mixupAlpha = 0
            case .mixupInfinite: o.mixupAlpha = .infinity
            case .fullSmoothing: o.labelSmoothing = 1
            case .negativeDecay: o.weightAverageDecay = -0.5
            case .nanRate: o.learningRate = .nan
            case .emptyBatch: o.batchSize = 0
            }
        }
    }

    /// Each such setting is a `DatasetError` from `Trainer.run` that names the output and the
    /// setting, before any work: no bundle and no checkpoint.
    @Test(arguments: BadSetting.allCases)
    func settingsOutOfRangeAreClearErrors(_ bad: BadSetting) throws {
        var s = try Setup(epochs: 1)
        bad.apply(to: &s.options)
        #expect {
            try s.train("bad.hsmodel")
        } throws: { error in
            let text = "\(error)"
            return error is DatasetError && text.contains("bad.hsmodel") && text.contains(bad.name)
        }
        #expect(!FileManager.default.fileExists(atPath: s.dir.file("bad.hsmodel").path))
        #expect(!FileManager.default.fileExists(atPath: s.dir.file("bad.hsmodel.checkpoint").path))
    }

    @Test func dihedralViewsAreTheEightSymmetries() {
        // Each of the 8 maps is a bijection of a 3×3 grid, and they are all different.
        var maps = Set<[Int]>()
        for k in 0..<8 {
            let m = (0..<9).map { i -> Int in
                let (sx, sy) = PatchAugmenter.dihedralSource(k, x: i % 3, y: i / 3, n: 3)
                return sy * 3 + sx
            }
            #expect(Set(m).count == 9)
            maps.insert(m)
        }
        #expect(maps.count == 8)
    }
}

extension TrainerTests {
    /// A learning rate of 1e30 makes the weights overflow. The run stops with an error that
    /// says so, instead of ranking NaN scores (which once looped without end), and leaves no bundle.
    @Test func divergenceStopsTheRunWithAClearError() throws {
        var s = try Setup(epochs: 2)
        s.options.learningRate = 1e30
        let out = s.dir.file("diverged.hsmodel")
        #expect {
            try s.train("diverged.hsmodel")
        } throws: { error in
            let text = "\(error)"
            return text.contains("diverged.hsmodel") && (text.contains("NaN") || text.contains("loss became")) && text.contains("lower --lr")
        }
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("model.json").path))
    }
}
