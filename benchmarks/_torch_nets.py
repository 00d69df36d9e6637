"""The PyTorch twins of skcnn's nets, and their FLOP count (for the benchmarks)."""

import torch
from torch import nn

INPUT_SHAPES = {"lenet": (1, 28, 28), "convnet": (1, 28, 28), "vgg": (3, 32, 32)}
"""The input of each net, (channels, height, width) as PyTorch holds it."""


def torch_model(name):
    """LeNet-5 (``"lenet"``), the benchmark ConvNet (``"convnet"``) or the
    VGG-style net of 3x3 convolutions on 32x32x3 images (``"vgg"``) in PyTorch."""
    if name == "vgg":
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 8 * 8, 256), nn.ReLU(), nn.Linear(256, 10),
        )  # fmt: skip
    if name == "lenet":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        )  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )  # fmt: skip


def forward_flop(model, input_shape=(1, 28, 28)) -> int:
    """FLOP of one image through the conv and dense layers (2 per MAC)."""
    macs = []

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            per_output = (
                module.in_channels // module.groups * module.weight[0, 0].numel()
            )
            macs.append(output[0].numel() * per_output)
        else:
            macs.append(module.in_features * module.out_features)

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    with torch.inference_mode():
        model.eval()(torch.zeros(1, *input_shape))
    for hook in hooks:
        hook.remove()
    return 2 * sum(macs)
