/// A learning rate as a function of the optimisation step (0-based).
public enum LearningRateSchedule: Sendable, Equatable, Codable {
    case constant(Double)
    /// `base · gamma^(⌊step / every⌋)`.
    case step(base: Double, every: Int, gamma: Double)
    /// Linear warm-up over `warmupSteps`, then cosine decay from `base` to `minimum` at `totalSteps`.
    case cosine(base: Double, minimum: Double, totalSteps: Int, warmupSteps: Int)

    public func rate(atStep step: Int) -> Double {
        switch self {
        case let .constant(rate):
            return rate
        case let .step(base, every, gamma):
            return base * pow(gamma, Double(step / max(1, every)))
        case let .cosine(base, minimum, total, warmup):
            if step < warmup { return base * Double(step + 1) / Double(warmup) }
            let progress = min(1, Double(step - warmup) / Double(max(1, total - warmup)))
            return minimum + (base - minimum) * 0.5 * (1 + cos(Double.pi * progress))
        }
    }
}

/// Which update rule to apply, with its hyper-parameters.
public enum OptimizerKind: Sendable, Equatable, Codable {
    /// PyTorch's SGD: `v = μ·v + (g + λ·p)`, `p −= lr·v`.
    case sgd(momentum: Double, weightDecay: Double)
    /// Adam with L2 weight decay added to the gradient (PyTorch `Adam(weight_decay=λ)`).
    case adam(beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double)
    /// AdamW: decoupled weight decay, `p −= lr·λ·p` before the Adam step (PyTorch `AdamW`).
    case adamW(beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double)
}

/// Updates a network's trainable, unfrozen parameters from their gradients.
public final class Optimizer<T: NeuralScalar> {
    public let kind: OptimizerKind
    public var schedule: LearningRateSchedule
    /// Steps taken so far; the schedule is evaluated at this index.
    public private(set) var step = 0
    private var slots1: [ObjectIdentifier: [T]] = [:]
    private var slots2: [ObjectIdentifier: [T]] = [:]

    public init(_ kind: OptimizerKind, schedule: LearningRateSchedule) {
        self.kind = kind
        self.schedule = schedule
    }

    public var currentRate: Double { schedule.rate(atStep: step) }

    /// One update of `parameters` (buffers are skipped), then the step counter advances.
    public func update(_ parameters: [Parameter<T>]) {
        let lr = T(schedule.rate(atStep: step))
        step += 1
        for p in parameters where !p.isBuffer {
            let id = ObjectIdentifier(p)
            let count = p.value.count
            switch kind {
            case let .sgd(momentum, weightDecay):
                var v = slots1[id] ?? [T](repeating: 0, count: count)
                let mu = T(momentum), wd = T(weightDecay)
                for i in 0..<count {
                    let g = p.gradient.data[i] + wd * p.value.data[i]
                    v[i] = momentum == 0 ? g : mu * v[i] + g
                    p.value.data[i] -= lr * v[i]
                }
                slots1[id] = v
            case let .adam(beta1, beta2, epsilon, weightDecay), let .adamW(beta1, beta2, epsilon, weightDecay):
                let decoupled: Bool = if case .adamW = kind { true } else { false }
                var m = slots1[id] ?? [T](repeating: 0, count: count)
                var v = slots2[id] ?? [T](repeating: 0, count: count)
                let b1 = T(beta1), b2 = T(beta2), eps = T(epsilon), wd = T(weightDecay)
                let correction1 = 1 - T.pow(b1, T(step)), correction2 = 1 - T.pow(b2, T(step))
                for i in 0..<count {
                    var g = p.gradient.data[i]
                    if decoupled {
                        p.value.data[i] -= lr * wd * p.value.data[i]
                    } else {
                        g += wd * p.value.data[i]
                    }
                    m[i] = b1 * m[i] + (1 - b1) * g
                    v[i] = b2 * v[i] + (1 - b2) * g * g
                    let mHat = m[i] / correction1, vHat = v[i] / correction2
                    p.value.data[i] -= lr * mHat / (T.sqrt(vHat) + eps)
                }
                slots1[id] = m
                slots2[id] = v
            }
        }
    }

    /// The optimiser's state, by parameter name, for checkpoints.
    public func state(for parameters: [Parameter<T>]) -> (step: Int, first: [String: [T]], second: [String: [T]]) {
        var first: [String: [T]] = [:], second: [String: [T]] = [:]
        for p in parameters {
            if let m = slots1[ObjectIdentifier(p)] { first[p.name] = m }
            if let v = slots2[ObjectIdentifier(p)] { second[p.name] = v }
        }
        return (step, first, second)
    }

    /// Restores state saved by `state(for:)`.
    public func restore(step: Int, first: [String: [T]], second: [String: [T]], parameters: [Parameter<T>]) {
        self.step = step
        for p in parameters {
            if let m = first[p.name] { slots1[ObjectIdentifier(p)] = m }
            if let v = second[p.name] { slots2[ObjectIdentifier(p)] = v }
        }
    }
}

import Foundation
