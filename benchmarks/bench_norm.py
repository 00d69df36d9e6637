"""Batch normalisation of feature maps: skcnn's kernels against PyTorch's, side by side.

Times a training step of one ``BatchNormalization`` layer (forward with batch
statistics and running averages, then backward: the input, scale and shift
gradients) and its inference pass, on float32 maps of the modern MNIST and
CIFAR-10 nets' shapes, against ``torch.nn.BatchNorm2d`` in both memory formats
(NCHW and channels_last; the faster one is the peer), on the same number of
threads. skcnn's maps are batch-last ``(channels, height, width, n)``. Each
figure is the minimum over ``--repeats`` rounds; the first calls (numba's
compilation or cache load) are not counted. Run::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_norm.py
"""

import argparse
import sys
import time

import numpy as np
import torch
from _common import add_threads_argument, cpu_description, load_note

from skcnn._kernels._jit import parallel_section
from skcnn.layers import BatchNormalization

SHAPES = {  # name: (channels, side, batch)
    "28x28x32": (32, 28, 128),
    "14x14x64": (64, 14, 128),
    "32x32x32": (32, 32, 64),
    "16x16x64": (64, 16, 64),
}


def best(function, repeats) -> float:
    function()  # compiles, or loads from the cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def skcnn_times(channels, side, n, repeats, threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((channels, side, side, n)).astype(np.float32)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    layer = BatchNormalization()
    params = layer.init_params((side, side, channels), None, np.float32)
    state = layer.init_state((side, side, channels), np.float32)

    def train():
        _, cache = layer.forward(x, params, training=True, state=state)
        layer.backward(dout, cache, params)

    def infer():
        layer.forward(x, params, training=False, state=state)

    with parallel_section(threads):
        return best(train, repeats), best(infer, repeats)


def torch_times(channels, side, n, repeats, memory_format):
    torch.manual_seed(0)
    layer = torch.nn.BatchNorm2d(channels)
    x = torch.randn(n, channels, side, side).to(memory_format=memory_format)
    x.requires_grad_(True)
    dout = torch.randn(n, channels, side, side).to(memory_format=memory_format)

    def train():
        layer.train()
        out = layer(x)
        out.backward(dout)

    def infer():
        layer.eval()
        with torch.inference_mode():
            layer(x)

    return best(train, repeats), best(infer, repeats)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_threads_argument(parser)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_description()}")
    print(
        f"threads: {args.threads}; torch {torch.__version__}; {load_note(args.threads)}"
    )
    print(
        "\n| maps (n) | skcnn train step | PyTorch (format) | ratio | skcnn "
        "inference | PyTorch (format) | ratio |\n|---|---|---|---|---|---|---|"
    )
    formats = {"NCHW": torch.contiguous_format, "channels_last": torch.channels_last}
    for name, (channels, side, n) in SHAPES.items():
        ours = skcnn_times(channels, side, n, args.repeats, args.threads)
        theirs = {
            label: torch_times(channels, side, n, args.repeats, memory_format)
            for label, memory_format in formats.items()
        }
        cells = []
        for task in range(2):
            label = min(theirs, key=lambda k: theirs[k][task])
            peer = theirs[label][task]
            cells.append(
                f"{ours[task] * 1e3:.2f} ms | {peer * 1e3:.2f} ms ({label}) | "
                f"{ours[task] / peer:.2f}"
            )
        print(f"| {name} ({n}) | " + " | ".join(cells) + " |")
    print("ratio: skcnn's time over PyTorch's fastest; below 1, skcnn is faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
