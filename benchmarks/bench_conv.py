"""GFLOP/s of each LeNet-5 layer's kernels in a training step (batch of 64).

Times the forward pass, the weight gradient and the input gradient of C1, C3
and C5 (MNIST geometry), and the pooling kernels, on float32 data in the
batch-last layout the estimator uses, with all of numba's threads. A
multiply-add counts as 2 FLOP. For scale: the fastest numba loop we have on this
2-core machine, the k-NN dot-product kernel, runs at about 155 GFLOP/s (LLVM
emits 256-bit FMAs through numba). Run::

    python benchmarks/bench_conv.py [--batch 64] [--repeats 300]
"""

import argparse
import sys
import time

import numba
import numpy as np

from skcnn._kernels._conv import (
    conv_backward_input,
    conv_backward_weight,
    conv_forward,
)
from skcnn._kernels._pool import pool_backward, pool_forward

LAYERS = {  # name: (in_c, in_size, n_filters, size)
    "C1": (1, 32, 6, 5),
    "C3": (6, 14, 16, 5),
    "C5": (16, 5, 120, 5),
}
POOLS = {"S2": (6, 28), "S4": (16, 10)}  # name: (channels, in_size)


def seconds(kernel, args, repeats):
    kernel(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        kernel(*args)
    return (time.perf_counter() - start) / repeats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args(argv)
    n, rng = args.batch, np.random.default_rng(0)
    print(f"batch {n}, {numba.get_num_threads()} numba threads")
    print(f"{'layer':<6}{'kernel':<16}{'µs':>9}{'GFLOP/s':>10}")
    total = 0.0
    for name, (in_c, size_in, n_filters, size) in LAYERS.items():
        out_size = size_in - size + 1
        x = rng.standard_normal((in_c, size_in, size_in, n)).astype(np.float32)
        weight = rng.standard_normal((n_filters, in_c, size, size)).astype(np.float32)
        bias = np.zeros(n_filters, np.float32)
        out = np.empty((n_filters, out_size, out_size, n), np.float32)
        dweight, dbias, dx = (
            np.empty_like(weight),
            np.empty_like(bias),
            np.empty_like(x),
        )
        flop = 2 * out.size * in_c * size * size
        kernels = {
            "forward": (conv_forward, (x, weight, bias, 1, out)),
            "weight grad": (conv_backward_weight, (x, out, 1, dweight, dbias)),
            "input grad": (conv_backward_input, (out, weight, 1, dx)),
        }
        for kernel, call in kernels.items():
            if name == "C1" and kernel == "input grad":
                continue  # the first layer needs no input gradient
            s = seconds(*call, args.repeats)
            total += s
            print(f"{name:<6}{kernel:<16}{s * 1e6:9.1f}{flop / s / 1e9:10.1f}")
    for name, (channels, size_in) in POOLS.items():
        x = rng.standard_normal((channels, size_in, size_in, n)).astype(np.float32)
        out = np.empty((channels, size_in // 2, size_in // 2, n), np.float32)
        dx = np.empty_like(x)
        for kernel, call in {
            "avg forward": (pool_forward, (x, 2, 2, False, out)),
            "avg backward": (pool_backward, (x, out, out, 2, 2, False, dx)),
        }.items():
            s = seconds(*call, args.repeats)
            total += s
            print(f"{name:<6}{kernel:<16}{s * 1e6:9.1f}{'':>10}")
    print(f"total of these kernels per training step: {total * 1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
