import CKernels
import Foundation

/// The engine's own parallelism: work is split into `threadCount` contiguous parts, run with
/// `DispatchQueue.concurrentPerform`. Defaults to the number of active cores, or the
/// `HISTOSCREEN_THREADS` environment variable.
public enum Threading {
    nonisolated(unsafe) private static var configured: Int?

    public static var threadCount: Int {
        get {
            if let configured { return configured }
            if let text = ProcessInfo.processInfo.environment["HISTOSCREEN_THREADS"], let n = Int(text), n > 0 { return n }
            return max(1, ProcessInfo.processInfo.activeProcessorCount)
        }
        set { configured = max(1, newValue) }
    }

    /// Runs `body(part, range)` for each of up to `threadCount` parts of `0..<count`.
    public static func parallelFor(_ count: Int, _ body: (Int, Range<Int>) -> Void) {
        let parts = min(threadCount, count)
        guard parts > 1 else {
            if count > 0 { body(0, 0..<count) }
            return
        }
        // The workers write disjoint parts of caller-owned buffers; the caller waits for all.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                body(part, (count * part / parts)..<(count * (part + 1) / parts))
            }
        }
    }
}

extension Threading {
    /// Runs `body(worker, index)` for every index of `0..<count` on up to `threadCount`
    /// workers that take the next index as they become free. Unlike `parallelFor`'s fixed
    /// parts, a worker slowed by another thread on its core (the slide reader, while
    /// screening) does fewer items instead of keeping the others waiting at the end.
    public static func dynamicFor(_ count: Int, _ body: (_ worker: Int, _ index: Int) -> Void) {
        let workers = min(threadCount, count)
        guard workers > 1 else {
            for i in 0..<count { body(0, i) }
            return
        }
        let next = NextIndex()
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                while let i = next.take(below: count) { body(worker, i) }
            }
        }
    }

    private final class NextIndex: @unchecked Sendable {  // guarded by `lock`
        private let lock = NSLock()
        private var value = 0
        func take(below count: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard value < count else { return nil }
            value += 1
            return value - 1
        }
    }
}

/// Process-wide memory settings for the engine.
public enum EngineMemory {
    /// Keeps large freed blocks in the heap instead of returning them to the OS. Activations
    /// of a batch are tens of MB each; glibc serves such blocks with mmap by default, so every
    /// layer of every pass would fault in fresh, zeroed pages (measured: about a third of
    /// compact's inference time). Idempotent; called when a network is built.
    public static func configure() { _ = configured }

    private static let configured: Void = hs_keep_large_blocks_in_heap()
}
