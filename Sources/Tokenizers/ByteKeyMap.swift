/// An open-addressing hash map from byte strings to non-negative `Int32` payloads.
///
/// Vocabulary look-ups are the inner loop of both tokenizers, and they are made on slices
/// of a scratch buffer: a `[String: Int32]` would need a `String` built and SipHash-ed per
/// candidate. Here keys are compared as bytes where they lie, hashed with FNV-1a, and the
/// whole map is four flat arrays.
struct ByteKeyMap: Sendable {
    /// All keys, concatenated.
    private var keyBytes: [UInt8] = []
    /// Start of key `i` in `keyBytes`; `count + 1` entries.
    private var keyStarts: [Int32] = [0]
    /// Payload of key `i`.
    private(set) var payloads: [Int32] = []
    /// Hash slots: entry index, or -1 when empty. Power-of-two sized, at most half full.
    private var slots: [Int32]
    private var hashes: [UInt32] = []

    /// Number of keys.
    var count: Int { payloads.count }

    /// An empty map sized for about `capacity` keys.
    init(capacity: Int = 16) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        slots = [Int32](repeating: -1, count: n)
        keyBytes.reserveCapacity(capacity * 8)
        keyStarts.reserveCapacity(capacity + 1)
        payloads.reserveCapacity(capacity)
        hashes.reserveCapacity(capacity)
    }

    @inline(__always)
    static func hash(_ p: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in p { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h ^ (h >> 29)
    }

    /// The payload of `key`, or -1.
    @inline(__always)
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int32 {
        let h = Self.hash(key)
        return slots.withUnsafeBufferPointer { slots in
            keyBytes.withUnsafeBufferPointer { keyBytes in
                keyStarts.withUnsafeBufferPointer { starts in
                    let mask = slots.count - 1
                    var i = Int(truncatingIfNeeded: h) & mask
                    let h32 = UInt32(truncatingIfNeeded: h)
                    while true {
                        let e = slots[i]
                        if e < 0 { return -1 }
                        let entry = Int(e)
                        if hashes[entry] == h32 {
                            let s = Int(starts[entry]), n = Int(starts[entry + 1]) - s
                            if n == key.count, bytesEqual(keyBytes, s, key, n) {
                                return payloads[entry]
                            }
                        }
                        i = (i + 1) & mask
                    }
                }
            }
        }
    }

    /// The payload of a key given as a byte array, or -1.
    func find(_ key: [UInt8]) -> Int32 {
        key.withUnsafeBufferPointer { find($0) }
    }

    /// Inserts `key` → `payload`, replacing the payload of an existing key.
    /// Returns false when the key was already there (its payload is replaced).
    @discardableResult
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, payload: Int32) -> Bool {
        precondition(payload >= 0, "ByteKeyMap payloads are non-negative")
        let h = Self.hash(key)
        let h32 = UInt32(truncatingIfNeeded: h)
        var mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] >= 0 {
            let entry = Int(slots[i])
            if hashes[entry] == h32 {
                let s = Int(keyStarts[entry]), n = Int(keyStarts[entry + 1]) - s
                if n == key.count, keyBytes[s..<(s + n)].elementsEqual(key) {
                    payloads[entry] = payload
                    return false
                }
            }
            i = (i + 1) & mask
        }
        if (payloads.count + 1) * 2 > slots.count {
            grow()
            mask = slots.count - 1
            i = Int(truncatingIfNeeded: h) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
        }
        slots[i] = Int32(payloads.count)
        keyBytes.append(contentsOf: key)
        keyStarts.append(Int32(keyBytes.count))
        payloads.append(payload)
        hashes.append(h32)
        return true
    }

    /// Inserts a key given as a byte collection.
    @discardableResult
    mutating func insert<C: Collection>(_ key: C, payload: Int32) -> Bool where C.Element == UInt8 {
        let bytes = Array(key)
        return bytes.withUnsafeBufferPointer { insert($0, payload: payload) }
    }

    private mutating func grow() {
        let n = slots.count * 2
        var newSlots = [Int32](repeating: -1, count: n)
        let mask = n - 1
        for entry in 0..<payloads.count {
            let s = Int(keyStarts[entry]), e = Int(keyStarts[entry + 1])
            let h = keyBytes.withUnsafeBufferPointer { Self.hash(UnsafeBufferPointer(rebasing: $0[s..<e])) }
            var i = Int(truncatingIfNeeded: h) & mask
            while newSlots[i] >= 0 { i = (i + 1) & mask }
            newSlots[i] = Int32(entry)
        }
        slots = newSlots
    }

    /// Calls `body` with every (key bytes, payload) pair, in insertion order.
    func forEach(_ body: (UnsafeBufferPointer<UInt8>, Int32) -> Void) {
        keyBytes.withUnsafeBufferPointer { kb in
            for entry in 0..<payloads.count {
                let s = Int(keyStarts[entry]), e = Int(keyStarts[entry + 1])
                body(UnsafeBufferPointer(rebasing: kb[s..<e]), payloads[entry])
            }
        }
    }
}

/// Whether `a[offset..<offset+n]` equals `b[0..<n]`.
@inline(__always)
func bytesEqual(_ a: UnsafeBufferPointer<UInt8>, _ offset: Int, _ b: UnsafeBufferPointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a[offset + i] != b[i] { return false }
        i += 1
    }
    return true
}
