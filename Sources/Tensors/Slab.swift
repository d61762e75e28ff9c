// One growable allocation of Floats with views into it: the storage of a model's parameters and of their gradients.
import Glibc
import CBLAS

/// A view of `count` Floats inside a `Slab`.
///
/// A view keeps its slab alive (so `model.parameters[name]!.value.toArray()` is safe on a
/// temporary model), but its pointer is only valid until the slab grows: take a parameter's
/// view again after attaching adapters (`Parameter.value` does so each time).
public struct FloatView {
    /// First element.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int
    /// What owns the memory (kept alive by the view).
    @usableFromInline let owner: AnyObject?

    /// A view of `count` floats at `pointer`, inside `owner`'s memory.
    @inlinable public init(pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject? = nil) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
    }

    /// Read-only pointer to the first element.
    @inlinable public var readPointer: UnsafePointer<Float> { UnsafePointer(pointer) }

    /// Sets every element to zero.
    @inlinable public func zero() { withExtendedLifetime(owner) { pointer.update(repeating: 0, count: count) } }

    /// Copies the contents into an array (for tests and small outputs).
    public func toArray() -> [Float] { withExtendedLifetime(owner) { Array(UnsafeBufferPointer(start: pointer, count: count)) } }

    /// Element access (bounds-checked in debug builds); not for hot loops.
    @inlinable public subscript(index: Int) -> Float {
        get { assert(index >= 0 && index < count); return pointer[index] }
        nonmutating set { assert(index >= 0 && index < count); pointer[index] = newValue }
    }
}

/// One anonymous memory mapping of Floats, handed out in 64-byte-aligned pieces, that grows
/// in place or moves without copying (`mremap`), so that a model's parameters stay one
/// allocation when adapters are added after the checkpoint is loaded.
///
/// Pages are zero and not resident until written, so reserving more than is used costs
/// address space, not memory. `grow` may move the mapping: pointers into it are then stale, and
/// users hold offsets (`FloatView`s are made from `base + offset` on demand).
public final class Slab: @unchecked Sendable {
    /// Start of the mapping (page-aligned).
    public private(set) var base: UnsafeMutablePointer<Float>
    /// Floats handed out so far (offsets below this are in use).
    public private(set) var used = 0
    /// Floats the mapping holds.
    public private(set) var capacity: Int

    static let pageFloats = Int(sysconf(Int32(_SC_PAGESIZE))) / MemoryLayout<Float>.stride

    /// Maps room for `capacity` floats, all zero.
    public init(capacity: Int = 0) {
        let floats = Self.roundToPages(max(capacity, 1))
        base = Self.map(floats)
        self.capacity = floats
    }

    deinit { munmap(UnsafeMutableRawPointer(base), capacity * MemoryLayout<Float>.stride) }

    /// Reserves `count` zero floats at a 64-byte boundary and returns their offset. The
    /// mapping at least doubles when it must grow, so a sequence of reservations is cheap.
    public func reserve(_ count: Int) -> Int {
        precondition(count >= 0, "Slab.reserve: negative count \(count)")
        let offset = (used + 15) & ~15
        let end = offset + count
        if end > capacity { grow(toAtLeast: max(end, 2 * capacity)) }
        used = end
        return offset
    }

    /// A view of `count` floats at `offset`.
    @inlinable public func view(at offset: Int, count: Int) -> FloatView {
        FloatView(pointer: base + offset, count: count, owner: self)
    }

    /// Zeroes the floats in use.
    public func zeroUsed() { base.update(repeating: 0, count: used) }

    func grow(toAtLeast floats: Int) {
        let newCapacity = Self.roundToPages(floats)
        let oldBytes = capacity * MemoryLayout<Float>.stride, newBytes = newCapacity * MemoryLayout<Float>.stride
        let moved = swift_lora_mremap_may_move(UnsafeMutableRawPointer(base), oldBytes, newBytes)
        guard let moved, moved != MAP_FAILED else {
            fatalError("Slab: could not grow to \(newBytes) bytes (mremap: errno \(errno)); out of address space or memory")
        }
        base = moved.bindMemory(to: Float.self, capacity: newCapacity)
        capacity = newCapacity
    }

    static func roundToPages(_ floats: Int) -> Int { (floats + pageFloats - 1) / pageFloats * pageFloats }

    static func map(_ floats: Int) -> UnsafeMutablePointer<Float> {
        let bytes = floats * MemoryLayout<Float>.stride
        let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else {
            fatalError("Slab: could not map \(bytes) bytes (mmap: errno \(errno)); out of memory")
        }
        return raw.bindMemory(to: Float.self, capacity: floats)
    }
}
