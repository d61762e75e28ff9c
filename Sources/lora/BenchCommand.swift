import ArgumentParser
import Foundation
import Tensors

/// `lora bench …`: measurements that print figures (never timed unit tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: kernels, training steps and inference, with figures comparable to scripts/bench/pytorch_bench.py.",
        subcommands: [KernelBench.self, TrainBench.self, InferBench.self, LoadBench.self]
    )
}

/// `lora bench kernels`: GEMM shapes of RoBERTa-base at 2048 tokens and the row kernels.
struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "GFLOP/s of the GEMM shapes of RoBERTa-base with 2048 tokens (all transpose modes used in training) and GB/s of LayerNorm, GELU and softmax."
    )

    @Flag(help: "One JSON object per line.")
    var json = false

    @Option(help: "Threads for BLAS and the row kernels (default: all cores).")
    var threads: Int?

    @Option(help: "Timed repetitions per measurement (the best is reported).")
    var repeats: Int = 5

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeats is \(repeats); it must be an integer ≥ 1") }
        try CLI.validateThreads(threads)
    }

    func run() throws {
        Threads.configure(threads)
        if !json { print("threads: \(Threads.count)") }
        // (name, M, K, N, transA, transB): C(M×N) = op(A)(M×K) · op(B)(K×N)
        let gemms: [(String, Int, Int, Int, Bool, Bool)] = [
            ("gemm_nt", 2048, 768, 768, false, true),    // forward: X · Wᵀ (q, k, v, attention output)
            ("gemm_nn", 2048, 768, 768, false, false),   // dX = dY · W
            ("gemm_tn", 768, 2048, 768, true, false),    // dW = dYᵀ · X
            ("gemm_nt", 2048, 768, 3072, false, true),   // intermediate forward
            ("gemm_nn", 2048, 3072, 768, false, false),  // dX of intermediate
            ("gemm_tn", 3072, 2048, 768, true, false),   // dW of intermediate
            ("gemm_nt", 2048, 3072, 768, false, true),   // output forward
            ("gemm_nn", 2048, 768, 3072, false, false),  // dX of output
            ("gemm_tn", 768, 2048, 3072, true, false),   // dW of output
        ]
        var rng = RandomGenerator(seed: 1)
        for (name, m, k, n, ta, tb) in gemms {
            let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n), c = FloatBuffer(count: m * n)
            rng.fillUniform(a.pointer, count: a.count, low: -1, high: 1)
            rng.fillUniform(b.pointer, count: b.count, low: -1, high: 1)
            let seconds = Self.best(repeats) {
                Gemm.multiply(m: m, n: n, k: k, a: a.readPointer, lda: ta ? m : k, transposeA: ta,
                              b: b.readPointer, ldb: tb ? k : n, transposeB: tb, c: c.pointer, ldc: n)
            }
            let gflops = 2.0 * Double(m) * Double(n) * Double(k) / seconds / 1e9
            report(op: name, shape: "\(m)x\(k)x\(n)", key: "gflops", value: gflops)
        }
        let rows = 2048, cols = 768
        let x = FloatBuffer(count: rows * cols), y = FloatBuffer(count: rows * cols)
        rng.fillNormal(x.pointer, count: x.count, std: 1)
        let w = FloatBuffer([Float](repeating: 1, count: cols)), bias = FloatBuffer(count: cols)
        let mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
        let lnSeconds = Self.best(repeats) {
            LayerNorm.forward(out: y.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.readPointer,
                              weight: w.readPointer, bias: bias.readPointer, rows: rows, cols: cols, eps: 1e-5)
        }
        report(op: "layernorm_forward", shape: "\(rows)x\(cols)", key: "gbps", value: Double(2 * rows * cols * 4) / lnSeconds / 1e9)
        let big = FloatBuffer(count: 2048 * 3072), bigOut = FloatBuffer(count: 2048 * 3072)
        rng.fillNormal(big.pointer, count: big.count, std: 1)
        let geluSeconds = Self.best(repeats) { GELU.forward(out: bigOut.pointer, input: big.readPointer, count: big.count) }
        report(op: "gelu_forward", shape: "2048x3072", key: "gbps", value: Double(2 * big.count * 4) / geluSeconds / 1e9)
        let sRows = 12 * 2048, sCols = 128
        let s = FloatBuffer(count: sRows * sCols), sOut = FloatBuffer(count: sRows * sCols)
        rng.fillNormal(s.pointer, count: s.count, std: 1)
        let smSeconds = Self.best(repeats) { Softmax.forward(out: sOut.pointer, input: s.readPointer, rows: sRows, cols: sCols) }
        report(op: "softmax_forward", shape: "\(sRows)x\(sCols)", key: "gbps", value: Double(2 * s.count * 4) / smSeconds / 1e9)
    }

    private func report(op: String, shape: String, key: String, value: Double) {
        if json {
            print("{\"op\": \"\(op)\", \"shape\": \"\(shape)\", \"\(key)\": \(String(format: "%.2f", value))}")
        } else {
            let unit = key == "gflops" ? "GFLOP/s" : "GB/s"
            print(op.padding(toLength: 20, withPad: " ", startingAt: 0) + shape.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + String(format: "%8.1f %@", value, unit))
        }
    }

    /// Best wall time of `repeats` runs after one warm-up.
    static func best(_ repeats: Int, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return best
    }
}
