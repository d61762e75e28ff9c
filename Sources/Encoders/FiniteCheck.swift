// Refuses weights that hold NaN or infinity, naming the tensor and the first bad element.
import Foundation

/// Checks loaded tensors for non-finite values (a NaN weight makes every logit NaN, and a NaN
/// logit still "picks" a label).
public enum FiniteCheck {
    /// - Throws: `EncoderError.invalidInput` naming the file, tensor and first bad index.
    public static func require(_ values: UnsafePointer<Float>, count: Int, tensor: String, file: String) throws {
        if let i = firstNonFinite(values, count: count) {
            throw EncoderError.invalidInput("\(file): tensor '\(tensor)' holds a non-finite value (\(values[i]) at element \(i)); refusing to use it")
        }
    }

    public static func require(_ values: UnsafeMutablePointer<Float>, count: Int, tensor: String, file: String) throws {
        try require(UnsafePointer(values), count: count, tensor: tensor, file: file)
    }

    /// The index of the first NaN or infinity, or nil.
    public static func firstNonFinite(_ values: UnsafePointer<Float>, count: Int) -> Int? {
        // Any NaN or infinity makes x * 0 NaN; summing blocks of products keeps the loop branch-free.
        let block = 4096
        var start = 0
        while start < count {
            let end = min(count, start + block)
            var acc: Float = 0
            for i in start..<end { acc += values[i] * 0 }
            if !acc.isFinite || acc.isNaN {
                for i in start..<end where !values[i].isFinite { return i }
            }
            start = end
        }
        return nil
    }
}
