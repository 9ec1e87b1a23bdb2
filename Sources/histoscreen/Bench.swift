import ArgumentParser
import Foundation
import Neural

/// `histoscreen bench`: the engine's throughput against this machine's own ceilings.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure inference and training throughput of the engine.",
        discussion: """
            For each architecture: FLOPs per patch, inference and training patches/s at the batch size \
            (median and range over --repeats), achieved GFLOP/s, and their share of the CPU's FMA ceiling \
            and of a 2048³ cblas_sgemm measured in the same run. GFLOP/s count the direct convolution's \
            FLOPs; the shares count the FLOPs the kernels execute, fewer where Winograd F(2×2,3×3) runs. vgg16 trains only block5 and the head, \
            as the seed project did. Build with -c release before measuring.
            """
    )

    @Option(name: .customLong("arch"), help: "Architectures to measure (repeatable): \(ModelSpec.builtinNames.joined(separator: ", ")).")
    var architectures: [String] = ["compact", "vgg16"]

    @Option(help: "Batch size.")
    var batch = 64

    @Option(help: "Timed repeats per measurement (after one warm-up).")
    var repeats = 5

    @Flag(help: "Skip the training measurement.")
    var noTraining = false

    @Flag(help: "Skip the cblas_sgemm reference measurement.")
    var noSgemm = false

    @Option(help: "The CPU's float32 FMA ceiling in GFLOP/s for the percentages (default: measured in this run).")
    var fmaCeiling: Double?

    @Flag(help: "Print the time spent in each layer (to stderr).")
    var profile = false

    @Option(help: "Worker threads for the engine (default: all cores).")
    var threads: Int?

    @Option(help: "Kernel set to measure: \(KernelSet.all.map(\.name).joined(separator: ", ")) (default: HISTOSCREEN_ISA, or the best this CPU runs).")
    var isa: String?

    @Flag(help: "Print JSON to stdout.")
    var json = false

    struct ArchReport: Encodable {
        var arch: String
        var batch: Int
        var flopsPerPatch: Int
        var inferencePatchesPerSecond: Benchmark.Stat
        /// All repeats' patches over their total time (the harmonic mean of the repeats):
        /// the rate sustained over the whole run, slow repeats included.
        var inferenceSustainedPatchesPerSecond: Double
        /// Direct-convolution FLOPs per second (`flopsPerPatch` × patches/s).
        var inferenceGFLOPS: Double
        /// FLOPs the kernels execute (Winograd layers do 16/36 of the direct multiply-adds).
        var inferenceExecutedFlopsPerPatch: Int
        /// Executed FLOPs per second against the FMA ceiling.
        var inferencePercentOfFMACeiling: Double
        var inferencePercentOfSGEMM: Double?
        var trainableFrom: String?
        var trainingFlopsPerPatch: Int?
        var trainingPatchesPerSecond: Benchmark.Stat?
        var trainingGFLOPS: Double?
        var trainingExecutedFlopsPerPatch: Int?
        var trainingPercentOfFMACeiling: Double?
        /// With --profile and no frozen prefix: the convolution layers' share of the step, and
        /// their FLOPs per second against the FMA ceiling.
        var trainingConvolutionShare: Double?
        var trainingConvolutionPercentOfFMACeiling: Double?
        var trainingPercentOfSGEMM: Double?
    }

    struct Report: Encodable {
        var cpu: String
        var kernelSet: String
        var winograd: Bool
        var sgemm2048GFLOPS: Benchmark.Stat?
        var fmaCeilingGFLOPS: Double
        var blas: String
        var architectures: [ArchReport]
    }

    func validate() throws {
        for arch in architectures where ModelSpec.builtin(arch) == nil {
            throw ValidationError("unknown architecture '\(arch)'; choose from \(ModelSpec.builtinNames.joined(separator: ", "))")
        }
        guard batch >= 1, repeats >= 1 else { throw ValidationError("--batch and --repeats must be at least 1") }
        if let isa {
            guard let set = KernelSet.named(isa) else {
                throw ValidationError("unknown kernel set '\(isa)'; this build has \(KernelSet.all.map(\.name).joined(separator: ", "))")
            }
            guard set.isSupported else {
                throw ValidationError("this CPU (\(KernelSet.cpuName)) cannot run the \(isa) kernels; it runs \(KernelSet.supported.map(\.name).joined(separator: ", "))")
            }
        }
    }

    func run() throws {
        if let threads { Threading.threadCount = threads }
        if let isa { KernelSet.use(KernelSet.named(isa)!) }
        let sgemm = Benchmark.Stat(noSgemm ? [.nan] : Benchmark.sgemm(repeats: repeats))
        // A ceiling is the best the machine does: the maximum of five short runs, since
        // other tenants of a shared machine can only slow a run down.
        let fmaCeiling = self.fmaCeiling ?? (0..<5).map { _ in Benchmark.fmaCeiling() }.max()!
        if !json {
            print("CPU: \(KernelSet.cpuName); \(KernelSet.activeDescription)")
            print("FMA ceiling: \(fixed(fmaCeiling, 1)) GFLOP/s on \(Threading.threadCount) threads (\(KernelSet.active.name) vectors)")
        }
        if !json && !noSgemm { print("cblas_sgemm 2048³: \(fixed(sgemm.median, 1)) GFLOP/s (\(fixed(sgemm.min, 1))–\(fixed(sgemm.max, 1))); \(BLAS.coreName) kernels") }
        var reports: [ArchReport] = []
        for arch in architectures {
            let net = try Network<Float>(spec: ModelSpec.builtin(arch)!, seed: 1)
            let flops = net.flopsPerSample
            if profile { net.profile = LayerProfile(layers: net.layers.count) }
            let rates = Benchmark.inference(net, batch: batch, repeats: repeats)
            let inference = Benchmark.Stat(rates)
            let sustained = Double(rates.count) / rates.reduce(0) { $0 + 1 / $1 }
            if let p = net.profile { printProfile(net, p, title: "\(arch) inference"); net.profile = LayerProfile(layers: net.layers.count) }
            let gflops = inference.median * Double(flops) / 1e9
            let executed = InferenceEngine(network: net).executedFlopsPerSample
            var report = ArchReport(arch: arch, batch: batch, flopsPerPatch: flops, inferencePatchesPerSecond: inference,
                                    inferenceSustainedPatchesPerSecond: sustained,
                                    inferenceGFLOPS: gflops, inferenceExecutedFlopsPerPatch: executed,
                                    inferencePercentOfFMACeiling: 100 * inference.median * Double(executed) / 1e9 / fmaCeiling,
                                    inferencePercentOfSGEMM: noSgemm ? nil : 100 * inference.median * Double(executed) / 1e9 / sgemm.median)
            if !noTraining {
                let trainableFrom = arch == "vgg16" ? "block5_conv1" : nil
                try net.setTrainable(from: trainableFrom)
                let trainingFlops = Benchmark.trainingFlopsPerSample(net)
                let trainingExecuted = Benchmark.trainingExecutedFlopsPerSample(net, batch: batch)
                let training = Benchmark.Stat(Benchmark.training(net, batch: batch, repeats: repeats))
                if let p = net.profile {
                    printProfile(net, p, title: "\(arch) training")
                    let total = p.forward.reduce(0, +) + p.backward.reduce(0, +)
                    if let conv = Benchmark.trainingConvolutionFlops(net, batch: batch, profile: p), conv.seconds > 0 {
                        let steps = Double(repeats + 1)  // the profile includes the warm-up step
                        report.trainingConvolutionShare = conv.seconds / total
                        report.trainingConvolutionPercentOfFMACeiling = 100 * Double(conv.flops * batch) * steps / conv.seconds / 1e9 / fmaCeiling
                    }
                }
                let trainingGFLOPS = training.median * Double(trainingFlops) / 1e9
                report.trainableFrom = trainableFrom
                report.trainingFlopsPerPatch = trainingFlops
                report.trainingPatchesPerSecond = training
                report.trainingGFLOPS = trainingGFLOPS
                report.trainingExecutedFlopsPerPatch = trainingExecuted
                report.trainingPercentOfFMACeiling = 100 * training.median * Double(trainingExecuted) / 1e9 / fmaCeiling
                report.trainingPercentOfSGEMM = noSgemm ? nil : 100 * training.median * Double(trainingExecuted) / 1e9 / sgemm.median
            }
            if !json { print(describe(report)) }
            reports.append(report)
        }
        if json {
            print(try encodeJSON(Report(cpu: KernelSet.cpuName, kernelSet: KernelSet.active.name, winograd: KernelSet.winograd,
                                        sgemm2048GFLOPS: noSgemm ? nil : sgemm, fmaCeilingGFLOPS: fmaCeiling, blas: BLAS.configuration,
                                        architectures: reports)))
        }
    }

    func printProfile(_ net: Network<Float>, _ p: LayerProfile, title: String) {
        let total = p.forward.reduce(0, +) + p.backward.reduce(0, +)
        var lines = ["\(title): time per layer (forward / backward), share of \(fixed(total, 2)) s"]
        for (i, layer) in net.layers.enumerated() where p.forward[i] + p.backward[i] > 0.002 * total {
            lines.append("  \(layer.name.padding(toLength: 16, withPad: " ", startingAt: 0)) "
                         + "\(fixed(100 * p.forward[i] / total, 1))% / \(fixed(100 * p.backward[i] / total, 1))%")
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// GFLOP/s count direct-convolution FLOPs; the percentages count the FLOPs executed, which
    /// are fewer where Winograd runs.
    func executedNote(_ executed: Int, _ direct: Int) -> String {
        executed < direct ? " (executed \(fixed(Double(executed) / 1e9, 3)) of \(fixed(Double(direct) / 1e9, 3)) GFLOP: Winograd)" : ""
    }

    func describe(_ r: ArchReport) -> String {
        let i = r.inferencePatchesPerSecond
        var lines = [
            "\(r.arch): \(fixed(Double(r.flopsPerPatch) / 1e9, 3)) GFLOP per patch, batch \(r.batch)",
            "  inference  \(fixed(i.median, 1)) patches/s (\(fixed(i.min, 1))–\(fixed(i.max, 1))), \(fixed(r.inferenceGFLOPS, 1)) GFLOP/s, "
                + "\(fixed(r.inferencePercentOfFMACeiling, 1))% of FMA ceiling" + sgemmShare(r.inferencePercentOfSGEMM)
                + executedNote(r.inferenceExecutedFlopsPerPatch, r.flopsPerPatch),
        ]
        if let t = r.trainingPatchesPerSecond, let g = r.trainingGFLOPS, let c = r.trainingPercentOfFMACeiling {
            lines.append("  training   \(fixed(t.median, 1)) patches/s (\(fixed(t.min, 1))–\(fixed(t.max, 1))), \(fixed(g, 1)) GFLOP/s, "
                         + "\(fixed(c, 1))% of FMA ceiling" + sgemmShare(r.trainingPercentOfSGEMM)
                         + (r.trainableFrom.map { "; trainable from \($0)" } ?? "")
                         + executedNote(r.trainingExecutedFlopsPerPatch ?? 0, r.trainingFlopsPerPatch ?? 0))
        }
        if let share = r.trainingConvolutionShare, let c = r.trainingConvolutionPercentOfFMACeiling {
            lines.append("  training convolutions: \(fixed(100 * share, 1))% of the step, at \(fixed(c, 1))% of FMA ceiling")
        }
        return lines.joined(separator: "\n")
    }

    func sgemmShare(_ percent: Double?) -> String { percent.map { ", \(fixed($0, 1))% of sgemm" } ?? "" }
}

func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
