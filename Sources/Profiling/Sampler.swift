import Dispatch
import Foundation

/// Records a ``Sample`` every `interval` seconds on its own thread: resident memory, CPU
/// utilisation and, where a meter exists, power and energy (RAPL or NVML).
///
/// ```swift
/// let sampler = ProfilingSampler(interval: 0.5)
/// sampler.start()
/// train()
/// let samples = sampler.stop()
/// let summary = ProfileSummary(samples: samples, powerSource: sampler.powerSource)
/// ```
///
/// Samples fall on a fixed grid (`interval`, `2·interval`, … after `start()`, without drift);
/// `stop()` wakes the thread at once and records a last, usually shorter, interval so that
/// totals cover the whole run. If a reading overruns a tick, the missed ticks are skipped.
///
/// `@unchecked Sendable`: all mutable state shared between the caller and the sampler thread
/// (the samples, `running`, the current recording's wake semaphore and finish group) is
/// guarded by `lock`; the power meter is touched by `start()` before the thread exists and
/// then only by the sampler thread, whose previous readings are local to it.
///
/// A running sampler is kept alive by its thread: call ``stop()`` to end it.
public final class ProfilingSampler: @unchecked Sendable {
    /// Seconds between samples.
    public let interval: Double
    /// The power meter in use, or why there is none. Fixed at initialisation.
    public let powerSource: PowerSource

    private let onSample: (@Sendable (Sample) -> Void)?
    private let meter: PowerMeter
    private let lock = NSLock()
    private var recorded: [Sample] = []
    private var running = false
    private var wake: DispatchSemaphore?
    private var finished: DispatchGroup?
    private var thread: Thread?

    /// Creates a sampler and opens its power meter.
    ///
    /// - Parameters:
    ///   - interval: Seconds between samples (clamped to at least 1 ms). Default 0.5.
    ///   - power: Which power meter to use. Default: RAPL, else NVML, else none.
    ///   - onSample: Called on the sampler thread after each sample is stored. It must return
    ///     quickly and must not call ``stop()``.
    public init(interval: Double = 0.5, power: PowerPreference = .automatic,
                onSample: (@Sendable (Sample) -> Void)? = nil) {
        self.interval = max(0.001, interval.isFinite ? interval : 0.5)
        self.onSample = onSample
        self.meter = PowerMeter.open(power)
        self.powerSource = meter.source
    }

    /// Whether a recording is in progress.
    public var isRunning: Bool {
        lock.withLock { running }
    }

    /// Copies of the samples recorded so far (safe to call while running).
    public var samples: [Sample] {
        lock.withLock { recorded }
    }

    /// Starts a new recording (discarding the previous one's samples). Does nothing if running.
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        guard !running else { return }
        running = true
        recorded = []
        let wake = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        finished.enter()
        self.wake = wake
        self.finished = finished
        let startNanos = MonotonicClock.nanoseconds()
        let startCPU = ProcessCPU.cpuSeconds()
        meter.begin()
        let thread = Thread { [self] in
            self.run(startNanos: startNanos, startCPU: startCPU, wake: wake)
            finished.leave()
        }
        thread.name = "swift-lora.profiling-sampler"
        self.thread = thread
        thread.start()
    }

    /// Stops the recording, waits for the sampler thread to record its last sample and exit,
    /// and returns all samples. Returns the last recording's samples if not running. Safe to
    /// call from several threads at once (each waits for the same end).
    @discardableResult
    public func stop() -> [Sample] {
        lock.lock()
        guard running, let wake, let finished else {
            let samples = recorded
            lock.unlock()
            return samples
        }
        precondition(Thread.current !== thread, "ProfilingSampler.stop() called from its own onSample callback")
        lock.unlock()
        wake.signal()
        finished.wait()
        return lock.withLock {
            running = false
            self.wake = nil
            self.finished = nil
            thread = nil
            return recorded
        }
    }

    /// The summary of the samples recorded so far.
    public func summary() -> ProfileSummary {
        ProfileSummary(samples: samples, powerSource: powerSource)
    }

    /// The sampler thread's loop: wait for the next tick (or the stop signal), read, store.
    private func run(startNanos: UInt64, startCPU: Double, wake: DispatchSemaphore) {
        let intervalNanos = UInt64(interval * 1e9)
        var tick: UInt64 = 1
        var previousNanos = startNanos
        var previousCPU = startCPU
        var energy: Double? = powerSource.kind == .notMeasured ? nil : 0
        while true {
            let deadline = startNanos &+ tick &* intervalNanos
            let now = MonotonicClock.nanoseconds()
            var stopping = false
            if deadline > now {
                stopping = wake.wait(timeout: .now() + .nanoseconds(Int(deadline - now))) == .success
            }
            let nanos = MonotonicClock.nanoseconds()
            // The stop signal can end the recording just after a sample; skip an empty interval.
            if stopping && nanos &- previousNanos < 1_000_000 { break }
            let cpu = ProcessCPU.cpuSeconds()
            let dt = Double(nanos &- previousNanos) / 1e9
            let (watts, joules) = meter.read(dt: dt)
            if let joules { energy = (energy ?? 0) + joules }
            let rss = ProcessMemory.currentRSSBytes.map { Double($0) / ProcessMemory.bytesPerMiB } ?? 0
            let sample = Sample(
                t: Double(nanos &- startNanos) / 1e9,
                rssMiB: rss,
                peakRSSMiB: ProcessMemory.peakRSSBytes.map { Double($0) / ProcessMemory.bytesPerMiB },
                cpuUtilisation: dt > 0 ? max(0, cpu - previousCPU) / dt : 0,
                cpuSeconds: cpu - startCPU,
                powerWatts: watts,
                energyJoules: energy)
            lock.withLock { recorded.append(sample) }
            onSample?(sample)
            if stopping { break }
            previousNanos = nanos
            previousCPU = cpu
            // Next tick on the grid after now (skipping ticks missed by a slow read or callback).
            let elapsed = MonotonicClock.nanoseconds() &- startNanos
            tick = max(tick + 1, elapsed / intervalNanos + 1)
            // A stop that arrived during the read is seen by the next wait, which returns at once.
        }
    }
}
