/// An owned, zero-initialised, contiguous buffer of `Float`s.
///
/// The buffer is a reference type so that views into it (parameters, gradients,
/// activations) can share one allocation; it frees its memory when the last reference goes.
/// Hot loops take `pointer` once and work on it directly.
public final class FloatBuffer: @unchecked Sendable {
    /// Start of the storage (64-byte aligned).
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int

    /// Allocates `count` floats, all zero.
    public convenience init(count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// Allocates `count` floats left uninitialised: pages are not touched (so not resident)
    /// until written. For scratch storage that is always written before it is read.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "FloatBuffer: negative count \(count)")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
    }

    /// Allocates a buffer holding a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit { pointer.deallocate() }

    /// Read-only view of the storage.
    @inlinable public var readPointer: UnsafePointer<Float> { UnsafePointer(pointer) }

    /// Sets every element to zero.
    @inlinable public func zero() { pointer.update(repeating: 0, count: count) }

    /// Copies the contents into an array (for tests and small outputs).
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Element access (bounds-checked in debug builds); not for hot loops.
    @inlinable public subscript(index: Int) -> Float {
        get { assert(index >= 0 && index < count); return pointer[index] }
        set { assert(index >= 0 && index < count); pointer[index] = newValue }
    }
}

/// A bump allocator for activations: hands out non-overlapping slices that stay valid
/// until `reset()`. When a request does not fit, a new chunk is added; `reset()` then
/// replaces the chunks by one of their total size, so after the largest batch has been seen
/// once the training loop allocates nothing.
public final class Arena: @unchecked Sendable {
    private var chunks: [FloatBuffer]
    private var chunkIndex = 0
    private var usedInChunk = 0
    /// Floats handed out since the last `reset()`.
    public private(set) var used: Int = 0
    /// High-water mark of `used` across resets.
    public private(set) var peak: Int = 0

    /// Creates an arena with an initial capacity of `capacity` floats.
    public init(capacity: Int = 1 << 16) { chunks = [FloatBuffer(uninitializedCount: max(capacity, 16))] }

    /// Total floats reserved.
    public var capacity: Int { chunks.reduce(0) { $0 + $1.count } }
    /// Number of separate allocations backing the arena (1 in steady state).
    public var chunkCount: Int { chunks.count }

    /// Returns `count` floats, 64-byte aligned. Contents are stale unless `zeroed` is set.
    public func allocate(_ count: Int, zeroed: Bool = false) -> UnsafeMutablePointer<Float> {
        let n = (max(count, 1) + 15) & ~15
        while usedInChunk + n > chunks[chunkIndex].count {
            if chunkIndex + 1 < chunks.count {
                chunkIndex += 1
                usedInChunk = 0
            } else {
                chunks.append(FloatBuffer(uninitializedCount: max(n, chunks[chunkIndex].count)))
                chunkIndex += 1
                usedInChunk = 0
            }
        }
        let p = chunks[chunkIndex].pointer + usedInChunk
        usedInChunk += n
        used += n
        peak = max(peak, used)
        if zeroed { p.update(repeating: 0, count: count) }
        return p
    }

    /// Returns `count` bytes (for dropout masks), 64-byte aligned, carved from the same storage.
    public func allocateBytes(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        let p = allocate((count + 3) / 4)
        return UnsafeMutableRawPointer(p).bindMemory(to: UInt8.self, capacity: count)
    }

    /// Forgets every slice handed out; consolidates the chunks into one of the peak size.
    ///
    /// The old chunks are freed before the new one is allocated, and arena memory is never
    /// zero-filled up front, so consolidating does not double the resident memory.
    public func reset() {
        if chunks.count > 1 {
            chunks.removeAll()
            chunks = [FloatBuffer(uninitializedCount: peak)]
        }
        chunkIndex = 0
        usedInChunk = 0
        used = 0
    }
}
