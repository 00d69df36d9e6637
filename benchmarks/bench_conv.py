"""GFLOP/s of the convolution kernels in a training step (batch of 64).

Times the forward pass, the weight gradient and the input gradient of LeNet-5's
C1, C3 and C5 (MNIST geometry) and of the two wide layers of the benchmark
ConvNet (conv1: 1->32 filters 5x5 on a 28x28 image padded to 32x32; conv2:
32->64 filters 5x5 on 14x14 padded to 18x18), of the VGG-style net's 3x3
"same" layers (vgg1-vgg4), and the pooling kernels, on
float32 data in the batch-last layout the estimator uses, with all of numba's
threads and BLAS held to one thread, as in training. A multiply-add counts as
2 FLOP; the Winograd kernels (``wino``: the 3x3 layers that train by
Winograd's F(2x2, 3x3), which needs 2.25x fewer multiplications) are counted at
the direct sum's FLOP, so that their GFLOP/s compare with the others' and may
exceed the sgemm bound. The step total counts the kernels training runs. The
first call of every kernel (numba compiling it, or loading it from its cache)
is timed apart, their total printed before the table and counted
nowhere else. Each figure is the minimum over ``--repeats`` timed rounds, and is
compared with the machine's sgemm bound, measured first with numpy's float32
matmul (2048 x 2048) on as many threads. Run::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/bench_conv.py [--batch 64] [--repeats 200] [--layers conv2]
"""

import argparse
import sys
import time

import numba
import numpy as np
from _common import cpu_description, sgemm_gflops
from threadpoolctl import threadpool_limits

from skcnn import WarmUpReport
from skcnn._kernels._conv import (
    conv_backward_input,
    conv_backward_weight,
    conv_forward,
)
from skcnn._kernels._pool import pool_backward, pool_forward
from skcnn._kernels._winograd import (
    winograd_backward_input,
    winograd_backward_weight,
    winograd_fits,
    winograd_forward,
)

LAYERS = {  # name: (in_c, padded in_size, n_filters, size)
    "C1": (1, 32, 6, 5),
    "C3": (6, 14, 16, 5),
    "C5": (16, 5, 120, 5),
    "conv1": (1, 32, 32, 5),
    "conv2": (32, 18, 64, 5),
    # The VGG-style net on 32x32x3 images: 3x3 "same" convolutions.
    "vgg1": (3, 34, 32, 3),
    "vgg2": (32, 34, 32, 3),
    "vgg3": (32, 18, 64, 3),
    "vgg4": (64, 18, 64, 3),
}
POOLS = {"S2": (6, 28), "S4": (16, 10)}  # name: (channels, in_size)


def best_seconds(kernel, args, repeats, rounds=1):
    """Minimum over ``repeats`` timings of ``rounds`` calls, after one warm call."""
    kernel(*args)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(rounds):
            kernel(*args)
        best = min(best, (time.perf_counter() - start) / rounds)
    return best


def first_calls(rows) -> WarmUpReport:
    """Call each kernel once (numba compiles it, or loads it from its cache)."""
    return WarmUpReport.measure(
        lambda: [kernel(*call) for _, _, kernel, call, _, _ in rows]
    )


def kernel_rows(layers, n, rng) -> list[tuple]:
    """(layer, kernel name, kernel, arguments, FLOP or None, in a training step)
    of each timed call."""
    rows = []
    for name in layers:
        if name not in LAYERS:
            continue
        in_c, size_in, n_filters, size = LAYERS[name]
        out_size = size_in - size + 1
        x = rng.standard_normal((in_c, size_in, size_in, n)).astype(np.float32)
        shape = (n_filters, in_c, size, size)
        weight = rng.standard_normal(shape).astype(np.float32)
        bias = np.zeros(n_filters, np.float32)
        out = np.empty((n_filters, out_size, out_size, n), np.float32)
        dweight, dbias = np.empty_like(weight), np.empty_like(bias)
        dx = np.empty_like(x)
        flop = 2 * out.size * in_c * size * size
        kernels = {
            "forward": (conv_forward, (x, weight, bias, 1, out)),
            "weight grad": (conv_backward_weight, (x, out, 1, dweight, dbias)),
            "input grad": (conv_backward_input, (out, weight, 1, dx)),
        }
        # 3x3 "same" layers train by Winograd (from the unpadded input); their
        # direct kernels still run at inference (the forward pass)
        pad = (size - 1) // 2
        winograd = winograd_fits(in_c, n_filters, size, 1, pad, out_size, out_size)
        if winograd:
            inner = np.ascontiguousarray(x[:, pad : size_in - pad, pad : size_in - pad])
            dinner = np.empty_like(inner)
            kernels |= {
                "wino forward": (winograd_forward, (inner, weight, bias, pad, out)),
                "wino wgrad": (
                    winograd_backward_weight,
                    (inner, out, pad, dweight, dbias),
                ),
                "wino igrad": (winograd_backward_input, (out, weight, pad, dinner)),
            }
        for kernel, call in kernels.items():
            if name in ("C1", "conv1", "vgg1") and kernel in (
                "input grad",
                "wino igrad",
            ):
                continue  # a first layer needs no input gradient
            in_step = kernel.startswith("wino") or not winograd
            rows.append((name, kernel, *call, flop, in_step))
    for name in layers:
        if name not in POOLS:
            continue
        channels, size_in = POOLS[name]
        x = rng.standard_normal((channels, size_in, size_in, n)).astype(np.float32)
        out = np.empty((channels, size_in // 2, size_in // 2, n), np.float32)
        dx = np.empty_like(x)
        for kernel, call in {
            "avg forward": (pool_forward, (x, 2, 2, False, out)),
            "avg backward": (pool_backward, (x, out, out, 2, 2, False, dx)),
        }.items():
            rows.append((name, kernel, *call, None, True))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument(
        "--layers", nargs="+", choices=[*LAYERS, *POOLS], default=[*LAYERS, *POOLS]
    )
    args = parser.parse_args(argv)
    n, rng, threads = args.batch, np.random.default_rng(0), numba.get_num_threads()
    bound = sgemm_gflops(threads)
    print(cpu_description())
    print(f"batch {n}, {threads} numba threads, BLAS held to 1 thread in kernels")
    print(f"sgemm bound (numpy float32 matmul, {threads} threads): {bound:.1f}")
    rows = kernel_rows(args.layers, n, rng)
    total = 0.0
    with threadpool_limits(1, "blas"):
        print(f"{first_calls(rows)} (not included in the times below)")
        print(f"{'layer':<7}{'kernel':<14}{'µs':>9}{'GFLOP/s':>10}{'of sgemm':>10}")
        for name, kernel, function, call, flop, in_step in rows:
            s = best_seconds(function, call, args.repeats)
            total += s if in_step else 0.0
            if flop is None:
                print(f"{name:<7}{kernel:<14}{s * 1e6:9.1f}{'':>10}")
                continue
            rate = flop / s / 1e9
            print(
                f"{name:<7}{kernel:<14}{s * 1e6:9.1f}{rate:10.1f}{rate / bound:10.0%}"
            )
    print(
        f"total per training step of the kernels training runs: {total * 1e3:.2f} ms"
        " (3x3 layers that fit: the Winograd ones)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
