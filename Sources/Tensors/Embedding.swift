/// Table lookup: row `ids[t]` of a `(V, C)` table becomes row `t` of the output.
public enum Embedding {
    /// Gathers `out[t, :] = table[ids[t], :]`. Ids must be in `0..<vocabularySize` (checked).
    public static func forward(out: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, ids: UnsafePointer<Int32>,
                               count: Int, vocabularySize: Int, dim: Int) {
        for t in 0..<count {
            let id = Int(ids[t])
            precondition(id >= 0 && id < vocabularySize, "Embedding: id \(id) at position \(t) outside 0..<\(vocabularySize)")
            (out + t * dim).update(from: table + id * dim, count: dim)
        }
    }

    /// Scatter-adds `dTable[ids[t], :] += dOut[t, :]`.
    public static func backward(dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>, count: Int, dim: Int) {
        for t in 0..<count {
            let row = dTable + Int(ids[t]) * dim, g = dOut + t * dim
            for j in 0..<dim { row[j] += g[j] }
        }
    }
}
