#!/usr/bin/env python3
"""numpy's GFLOP/s on the GEMM shapes of `lora bench kernels` (RoBERTa-base, 2048 tokens).

Usage: python3 scripts/bench/numpy_gemm.py [--repeats 5]
Prints one JSON object per line, like `lora bench kernels --json`:
{"op": "gemm_nt", "shape": "MxKxN", "gflops": ...}. C(M×N) = op(A)(M×K) · op(B)(K×N).
Run both in the same sitting:  .build/release/lora bench kernels --json; python3 scripts/bench/numpy_gemm.py
"""
import argparse
import json
import time

import numpy as np

SHAPES = [
    ("gemm_nt", 2048, 768, 768, False, True),
    ("gemm_nn", 2048, 768, 768, False, False),
    ("gemm_tn", 768, 2048, 768, True, False),
    ("gemm_nt", 2048, 768, 3072, False, True),
    ("gemm_nn", 2048, 3072, 768, False, False),
    ("gemm_tn", 3072, 2048, 768, True, False),
    ("gemm_nt", 2048, 3072, 768, False, True),
    ("gemm_nn", 2048, 768, 3072, False, False),
    ("gemm_tn", 768, 2048, 3072, True, False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    for name, m, k, n, ta, tb in SHAPES:
        a = rng.uniform(-1, 1, size=(k, m) if ta else (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, size=(n, k) if tb else (k, n)).astype(np.float32)
        opa = a.T if ta else a
        opb = b.T if tb else b
        out = np.empty((m, n), dtype=np.float32)
        np.matmul(opa, opb, out=out)
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            np.matmul(opa, opb, out=out)
            best = min(best, time.perf_counter() - t0)
        print(json.dumps({"op": name, "shape": f"{m}x{k}x{n}", "gflops": round(2 * m * n * k / best / 1e9, 2)}))


if __name__ == "__main__":
    main()
