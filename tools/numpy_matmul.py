#!/usr/bin/env python3
"""NumPy float32 matmul throughput for square sizes, the CPU baseline for `fastshap bench matmul`.

Usage: python3 tools/numpy_matmul.py [--json] [SIZES...]   (default sizes 256 512 1024 2048)
Reports the median of timed repetitions after one warm-up, like src/bench/mod.rs::time_gpu.
"""
import json
import sys
import time

import numpy as np


def measure(n: int) -> dict:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)  # warm-up (thread pool start, page faults)
    reps = int(min(max(2e10 / n**3, 3), 50))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    times.sort()
    secs = times[len(times) // 2]
    return {"size": n, "secs": secs, "gflops": 2 * n**3 / secs / 1e9}


def main() -> None:
    args = sys.argv[1:]
    as_json = "--json" in args
    sizes = [int(a) for a in args if a != "--json"] or [256, 512, 1024, 2048]
    rows = [measure(n) for n in sizes]
    if as_json:
        print(json.dumps({"numpy": np.__version__, "rows": rows}, indent=1))
        return
    print(f"numpy {np.__version__} float32 matmul")
    print(f"{'shape':<22} {'ms':>10} {'GFLOP/s':>10}")
    for r in rows:
        n = r["size"]
        print(f"{f'{n}x{n}x{n}':<22} {r['secs'] * 1e3:>10.3f} {r['gflops']:>10.2f}")


if __name__ == "__main__":
    main()
