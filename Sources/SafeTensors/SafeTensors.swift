import Foundation
import InputValidation
#if canImport(Glibc)
import Glibc
#endif

/// Element types of a safetensors file that swift-lora reads.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32", u8 = "U8", i8 = "I8"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16: 2
        case .f64, .i64: 8
        case .u8, .i8: 1
        }
    }
}

/// What can go wrong reading or writing a safetensors file. Every case names the file,
/// and the tensor where one is involved.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(file: String, reason: String)
    case truncated(file: String, size: Int)
    case headerTooLong(file: String, headerLength: UInt64, fileSize: Int)
    case invalidHeader(file: String, reason: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case invalidShape(file: String, tensor: String, reason: String)
    case offsetOutOfRange(file: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    case sizeMismatch(file: String, tensor: String, expectedBytes: Int, actualBytes: Int)
    case overlapping(file: String, tensor: String, other: String)
    case tensorNotFound(file: String, tensor: String)
    case wrongDType(file: String, tensor: String, dtype: String, wanted: String)
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(file, reason): "\(file): cannot open: \(reason)"
        case let .truncated(file, size): "\(file): truncated: \(size) bytes is too short for a safetensors header"
        case let .headerTooLong(file, len, size): "\(file): header length \(len) exceeds the file size \(size)"
        case let .invalidHeader(file, reason): "\(file): invalid header: \(reason)"
        case let .unknownDType(file, tensor, dtype): "\(file): tensor '\(tensor)': unknown dtype '\(dtype)'"
        case let .invalidShape(file, tensor, reason): "\(file): tensor '\(tensor)': invalid shape: \(reason)"
        case let .offsetOutOfRange(file, tensor, b, e, size): "\(file): tensor '\(tensor)': data offsets [\(b), \(e)) outside the data section of \(size) bytes"
        case let .sizeMismatch(file, tensor, exp, act): "\(file): tensor '\(tensor)': shape and dtype need \(exp) bytes but the offsets span \(act)"
        case let .overlapping(file, tensor, other): "\(file): tensor '\(tensor)' overlaps tensor '\(other)'"
        case let .tensorNotFound(file, tensor): "\(file): no tensor named '\(tensor)'"
        case let .wrongDType(file, tensor, dtype, wanted): "\(file): tensor '\(tensor)' has dtype \(dtype), wanted \(wanted)"
        case let .writeFailed(file, reason): "\(file): write failed: \(reason)"
        }
    }
}

/// One tensor's entry in the header.
public struct SafeTensorInfo: Sendable, Equatable {
    /// Tensor name.
    public let name: String
    /// Element type.
    public let dtype: SafeTensorsDType
    /// Shape (empty for a scalar).
    public let shape: [Int]
    /// Byte range inside the data section.
    public let dataRange: Range<Int>
    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped, validated safetensors file.
///
/// Layout: little-endian `u64` header length `N`, `N` bytes of JSON header
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`),
/// then the data section. Opening checks every offset against the file size, that each
/// tensor's byte span equals its shape × dtype size, and that no two tensors overlap.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Path of the file.
    public let path: String
    /// Tensors by name.
    public let tensors: [String: SafeTensorInfo]
    /// The `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    private let base: UnsafeRawPointer
    private let mappedSize: Int
    private let dataStart: Int

    /// Tensor names in file order (by data offset).
    public var names: [String] { tensors.values.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }.map(\.name) }

    /// Opens and validates `url`.
    public init(url: URL) throws {
        path = url.path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafeTensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        let size = Int(st.st_size)
        guard size >= 8 else { throw SafeTensorsError.truncated(file: path, size: size) }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw SafeTensorsError.cannotOpen(file: path, reason: "mmap: " + String(cString: strerror(errno)))
        }
        let raw = UnsafeRawPointer(m)
        var headerLength: UInt64 = 0
        withUnsafeMutableBytes(of: &headerLength) { $0.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: 8)) }
        headerLength = UInt64(littleEndian: headerLength)
        guard headerLength <= UInt64(size - 8) else {
            munmap(m, size)
            throw SafeTensorsError.headerTooLong(file: path, headerLength: headerLength, fileSize: size)
        }
        let hdrData = Data(bytes: raw + 8, count: Int(headerLength))
        let dataStart = 8 + Int(headerLength)
        do {
            (tensors, metadata) = try Self.parseHeader(hdrData, file: path, dataSize: size - dataStart)
        } catch {
            munmap(m, size)
            throw error
        }
        base = raw
        mappedSize = size
        self.dataStart = dataStart
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedSize) }

    /// The keys of a JSON object's top level, and the first one that appears twice. `data`
    /// must already be known to be valid JSON.
    static func topLevelKeys(_ data: Data) -> (keys: [String], duplicate: String?) {
        var keys: [String] = []
        var seen = Set<String>()
        var duplicate: String?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var depth = 0
            var i = 0
            let n = bytes.count
            while i < n {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    let start = i
                    i += 1
                    while i < n && bytes[i] != UInt8(ascii: "\"") {
                        if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                        i += 1
                    }
                    let end = i  // the closing quote
                    if depth == 1 {
                        var j = end + 1
                        while j < n, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[j]) { j += 1 }
                        if j < n, bytes[j] == UInt8(ascii: ":") {
                            let literal = Data(bytes[start...min(end, n - 1)])
                            let key = (try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed)) as? String
                                ?? String(decoding: literal.dropFirst().dropLast(), as: UTF8.self)
                            if !seen.insert(key).inserted, duplicate == nil { duplicate = key }
                            keys.append(key)
                        }
                    }
                } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                    depth += 1
                } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                    depth -= 1
                }
                i += 1
            }
        }
        return (keys, duplicate)
    }

    static func parseHeader(_ data: Data, file: String, dataSize: Int) throws -> ([String: SafeTensorInfo], [String: String]) {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw SafeTensorsError.invalidHeader(file: file, reason: "not JSON (\(error.localizedDescription))")
        }
        guard let dict = object as? [String: Any] else { throw SafeTensorsError.invalidHeader(file: file, reason: "not a JSON object") }
        // JSONSerialization keeps the last of two equal keys: a duplicate tensor would be
        // silently dropped.
        if let duplicate = topLevelKeys(data).duplicate {
            throw SafeTensorsError.invalidHeader(file: file, reason: "tensor '\(duplicate)' is named twice")
        }
        var tensors: [String: SafeTensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let md = value as? [String: Any] else { throw SafeTensorsError.invalidHeader(file: file, reason: "__metadata__ is not an object") }
                for (k, v) in md {
                    guard let s = v as? String else { throw SafeTensorsError.invalidHeader(file: file, reason: "__metadata__['\(k)'] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw SafeTensorsError.invalidHeader(file: file, reason: "entry '\(name)' is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw SafeTensorsError.invalidHeader(file: file, reason: "tensor '\(name)' has no dtype") }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else { throw SafeTensorsError.unknownDType(file: file, tensor: name, dtype: dtypeName) }
            guard let shapeAny = entry["shape"] as? [Any] else { throw SafeTensorsError.invalidShape(file: file, tensor: name, reason: "missing") }
            var shape: [Int] = []
            for d in shapeAny {
                guard let n = (d as? NSNumber)?.intValue, n >= 0 else { throw SafeTensorsError.invalidShape(file: file, tensor: name, reason: "dimension \(d) is not a non-negative integer") }
                shape.append(n)
            }
            guard let offs = entry["data_offsets"] as? [Any], offs.count == 2,
                  let b = (offs[0] as? NSNumber)?.intValue, let e = (offs[1] as? NSNumber)?.intValue else {
                throw SafeTensorsError.invalidHeader(file: file, reason: "tensor '\(name)' has no valid data_offsets")
            }
            guard b >= 0, e >= b, e <= dataSize else {
                throw SafeTensorsError.offsetOutOfRange(file: file, tensor: name, begin: b, end: e, dataSize: dataSize)
            }
            var count = 1
            for d in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw SafeTensorsError.invalidShape(file: file, tensor: name, reason: "element count overflows") }
                count = p
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow else { throw SafeTensorsError.invalidShape(file: file, tensor: name, reason: "byte size overflows") }
            guard bytes == e - b else {
                throw SafeTensorsError.sizeMismatch(file: file, tensor: name, expectedBytes: bytes, actualBytes: e - b)
            }
            tensors[name] = SafeTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: b..<e)
        }
        let sorted = tensors.values.filter { !$0.dataRange.isEmpty }.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }
        if sorted.count > 1 {
            for i in 1..<sorted.count where sorted[i].dataRange.lowerBound < sorted[i - 1].dataRange.upperBound {
                throw SafeTensorsError.overlapping(file: file, tensor: sorted[i].name, other: sorted[i - 1].name)
            }
        }
        return (tensors, metadata)
    }

    /// The header entry of `name`.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let t = tensors[name] else { throw SafeTensorsError.tensorNotFound(file: path, tensor: name) }
        return t
    }

    /// The raw bytes of a tensor (valid while this object lives).
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let t = try info(name)
        return UnsafeRawBufferPointer(start: base + dataStart + t.dataRange.lowerBound, count: t.dataRange.count)
    }

    /// Converts a floating-point tensor (F32, F16, BF16, F64) to Float into `destination`,
    /// which must hold `elementCount` floats. After copying, the mapped pages are released
    /// (`MADV_DONTNEED`) so a model load does not hold the file twice in memory.
    public func readFloats(_ name: String, into destination: UnsafeMutablePointer<Float>, count: Int) throws {
        let t = try info(name)
        guard t.elementCount == count else {
            throw SafeTensorsError.invalidShape(file: path, tensor: name, reason: "has \(t.elementCount) elements, expected \(count)")
        }
        let src = base + dataStart + t.dataRange.lowerBound
        switch t.dtype {
        case .f32:
            // Copy in 8 MiB pieces, releasing each piece's mapped pages as soon as it is
            // copied, so that loading never holds much more than one copy of the weights.
            let piece = 8 << 20
            var offset = 0
            let bytes = count * 4
            while offset < bytes {
                let n = min(piece, bytes - offset)
                (UnsafeMutableRawPointer(destination) + offset).copyMemory(from: src + offset, byteCount: n)
                releasePages(start: dataStart + t.dataRange.lowerBound + offset, end: dataStart + t.dataRange.lowerBound + offset + n)
                offset += n
            }
        case .f64:
            for i in 0..<count { destination[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
        case .bf16:
            for i in 0..<count {
                let bits = UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) << 16
                destination[i] = Float(bitPattern: bits)
            }
        case .f16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                destination[i] = Self.halfToFloat(bits)
            }
        default:
            throw SafeTensorsError.wrongDType(file: path, tensor: name, dtype: t.dtype.rawValue, wanted: "a float type")
        }
        release(t)
    }

    /// A floating-point tensor as a `[Float]`.
    public func floats(_ name: String) throws -> [Float] {
        let n = try info(name).elementCount
        var out = [Float](repeating: 0, count: n)
        try out.withUnsafeMutableBufferPointer { buf in
            if let p = buf.baseAddress { try readFloats(name, into: p, count: n) }
        }
        return out
    }

    /// An I8 tensor's values.
    public func int8s(_ name: String) throws -> [Int8] {
        let t = try info(name)
        guard t.dtype == .i8 else { throw SafeTensorsError.wrongDType(file: path, tensor: name, dtype: t.dtype.rawValue, wanted: "I8") }
        let src = base + dataStart + t.dataRange.lowerBound
        return (0..<t.elementCount).map { src.load(fromByteOffset: $0, as: Int8.self) }
    }

    /// An integer tensor (I64, I32, U8) as `[Int]`.
    public func integers(_ name: String) throws -> [Int] {
        let t = try info(name)
        let src = base + dataStart + t.dataRange.lowerBound
        switch t.dtype {
        case .i64: return (0..<t.elementCount).map { Int(Int64(littleEndian: src.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
        case .i32: return (0..<t.elementCount).map { Int(Int32(littleEndian: src.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
        case .u8: return (0..<t.elementCount).map { Int(src.load(fromByteOffset: $0, as: UInt8.self)) }
        default: throw SafeTensorsError.wrongDType(file: path, tensor: name, dtype: t.dtype.rawValue, wanted: "an integer type")
        }
    }

    private func release(_ t: SafeTensorInfo) {
        releasePages(start: dataStart + t.dataRange.lowerBound, end: dataStart + t.dataRange.upperBound)
    }

    /// Drops the whole pages inside the byte range `[start, end)` of the mapping from memory.
    private func releasePages(start: Int, end: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let alignedStart = (start + page - 1) / page * page
        let alignedEnd = end / page * page
        if alignedEnd > alignedStart {
            madvise(UnsafeMutableRawPointer(mutating: base + alignedStart), alignedEnd - alignedStart, Int32(MADV_DONTNEED))
        }
    }

    /// IEEE half → single precision.
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            let v = Float(mant) * powf(2, -24)
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
    }
}

/// A tensor to be written: name, dtype, shape and little-endian bytes.
public struct SafeTensorRecord: Sendable {
    /// Tensor name.
    public var name: String
    /// Element type.
    public var dtype: SafeTensorsDType
    /// Shape.
    public var shape: [Int]
    /// Raw little-endian data (`shape.product × dtype.byteSize` bytes).
    public var bytes: Data

    /// A record from raw bytes.
    public init(name: String, dtype: SafeTensorsDType, shape: [Int], bytes: Data) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// An F32 record from floats.
    public init(name: String, shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "SafeTensorRecord '\(name)': shape \(shape) does not hold \(floats.count) floats")
        self.init(name: name, dtype: .f32, shape: shape, bytes: floats.withUnsafeBufferPointer { Data(buffer: $0) })
    }

    /// An F32 record that refers to `pointer`'s memory without copying it: the memory must
    /// stay alive and unchanged until the record has been written.
    public init(name: String, shape: [Int], pointer: UnsafePointer<Float>) {
        self.init(name: name, dtype: .f32, shape: shape,
                  bytes: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: pointer), count: shape.reduce(1, *) * 4, deallocator: .none))
    }

    /// An I8 record from `pointer`'s memory, copied.
    public init(name: String, shape: [Int], int8s pointer: UnsafePointer<Int8>) {
        self.init(name: name, dtype: .i8, shape: shape, bytes: Data(bytes: pointer, count: shape.reduce(1, *)))
    }

    /// An I64 record.
    public init(name: String, shape: [Int], integers: [Int64]) {
        precondition(shape.reduce(1, *) == integers.count, "SafeTensorRecord '\(name)': shape mismatch")
        self.init(name: name, dtype: .i64, shape: shape, bytes: integers.withUnsafeBufferPointer { Data(buffer: $0) })
    }
}

/// Writes safetensors files atomically: to a temporary file beside the target, then rename.
public enum SafeTensorsWriter {
    /// Writes `records` (in the given order) and `metadata` to `url`.
    public static func write(_ records: [SafeTensorRecord], metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        var offset = 0
        var seen = Set<String>()
        for r in records {
            guard seen.insert(r.name).inserted else { throw SafeTensorsError.writeFailed(file: url.path, reason: "duplicate tensor '\(r.name)'") }
            let expected = r.shape.reduce(1, *) * r.dtype.byteSize
            guard expected == r.bytes.count else {
                throw SafeTensorsError.sizeMismatch(file: url.path, tensor: r.name, expectedBytes: expected, actualBytes: r.bytes.count)
            }
            header[r.name] = ["dtype": r.dtype.rawValue, "shape": r.shape, "data_offsets": [offset, offset + r.bytes.count]] as [String: Any]
            offset += r.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var head = Data(capacity: 8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { head.append(contentsOf: $0) }
        head.append(json)
        // Streamed record by record: the file is never assembled in memory.
        try AtomicFile.write(chunks: [head] + records.map(\.bytes), to: url)
    }
}

/// Writes a file by writing a temporary sibling and renaming it over the target, so a
/// reader never sees a half-written file and a killed writer leaves the old file intact.
public enum AtomicFile {
    /// Writes `data` to `url` atomically (creating parent directories).
    public static func write(_ data: Data, to url: URL) throws {
        try write(chunks: [data], to: url)
    }

    /// Writes the concatenation of `chunks` to `url` atomically, one chunk after the other
    /// (nothing is concatenated in memory). A failed write removes the temporary file.
    public static func write(chunks: [Data], to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let token = TemporaryFiles.register(tmp)
        defer { TemporaryFiles.unregister(token) }
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
                throw SafeTensorsError.writeFailed(file: url.path, reason: "cannot create \(tmp.lastPathComponent): \(String(cString: strerror(errno)))")
            }
            do {
                let handle = try FileHandle(forWritingTo: tmp)
                defer { try? handle.close() }
                for chunk in chunks { try handle.write(contentsOf: chunk) }
            } catch {
                try? FileManager.default.removeItem(at: tmp)
                throw error
            }
            if rename(tmp.path, url.path) != 0 {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(at: tmp)
                throw SafeTensorsError.writeFailed(file: url.path, reason: "rename: \(reason)")
            }
        } catch let e as SafeTensorsError {
            try? FileManager.default.removeItem(at: tmp)
            throw e
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw SafeTensorsError.writeFailed(file: url.path, reason: FileErrors.describe(error) ?? error.localizedDescription)
        }
    }
}
