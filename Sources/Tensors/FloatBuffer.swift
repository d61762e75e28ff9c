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
    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer: negative count \(count)")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
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

/// A bump allocator over one `FloatBuffer`: hands out non-overlapping slices and is reset
/// (not freed) between training steps, so the training loop allocates nothing.
public final class Arena: @unchecked Sendable {
    /// The backing storage.
    public let storage: FloatBuffer
    /// Floats handed out since the last `reset()`.
    public private(set) var used: Int = 0
    /// High-water mark of `used` across resets.
    public private(set) var peak: Int = 0

    /// Creates an arena of `capacity` floats.
    public init(capacity: Int) { storage = FloatBuffer(count: capacity) }

    /// Returns `count` floats, aligned to 16 floats (64 bytes). Contents are whatever was
    /// there before unless `zeroed` is set.
    public func allocate(_ count: Int, zeroed: Bool = false) -> UnsafeMutablePointer<Float> {
        let start = (used + 15) & ~15
        precondition(start + count <= storage.count,
                     "Arena: out of space (need \(start + count) floats, have \(storage.count))")
        used = start + count
        peak = max(peak, used)
        let p = storage.pointer + start
        if zeroed { p.update(repeating: 0, count: count) }
        return p
    }

    /// Forgets every slice handed out; the memory is reused by the next allocations.
    public func reset() { used = 0 }
}
