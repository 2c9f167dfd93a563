"""Exports the TorchScript models the tests use, with Debian's python3-torch (the same 1.13 as
LibTorch). Usage: export_models.py OUT_DIR [--image-size 28] [--channels 1] [--classes 10]

Writes into OUT_DIR:
  mlp.pt          the built-in `mlp` (fc1, fc2: 784-128-10), scripted
  lenet5.pt       the built-in `lenet5` (conv1 .. fc3, same forward), scripted
  lenet5-traced.pt  the same, traced
  cnn.pt          a CNN with BatchNorm, a residual connection, a strided and a grouped
                  convolution and average pooling, scripted
  cnn-traced.pt   the same, traced in evaluation mode
  unsupported.pt  a model with a ConvTranspose2d (a weight xbarsweep cannot map)
  no-layers.pt    a model without any Linear or Conv2d
  two-inputs.pt   a model whose forward takes two tensors
The built-in mirrors have the built-in models' module names and forward passes, so with
`model.init: seed` they start from the same weights and compute the same functions."""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from xbarsweep.models import MLP, LeNet5  # noqa: E402  the built-in models' mirrors


class Residual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding="same", groups=2, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + x)


class CNN(nn.Module):
    def __init__(self, channels, classes):
        super().__init__()
        self.stem = nn.Conv2d(channels, 8, 3, stride=2, padding=1)
        self.stem_bn = nn.BatchNorm2d(8)
        self.block = Residual(8)
        self.head = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, classes))

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem(x)))
        x = self.block(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.head(x)


class Unsupported(nn.Module):
    def __init__(self, channels, classes):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)
        self.fc = nn.Linear(4, classes)

    def forward(self, x):
        x = self.up(F.relu(self.conv(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class NoLayers(nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :10]


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x, y):
        return self.fc(x.flatten(1) + y.flatten(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--classes", type=int, default=10)
    a = parser.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    example = torch.zeros(2, a.channels, a.image_size, a.image_size)
    inputs = a.channels * a.image_size * a.image_size

    def save(module, name):
        module.save(os.path.join(a.out, name))

    save(torch.jit.script(MLP(inputs, 128, a.classes)), "mlp.pt")
    lenet = LeNet5(a.channels, a.image_size, a.classes)
    save(torch.jit.script(lenet), "lenet5.pt")
    save(torch.jit.trace(lenet, example), "lenet5-traced.pt")
    cnn = CNN(a.channels, a.classes)
    save(torch.jit.script(cnn), "cnn.pt")
    save(torch.jit.trace(cnn.eval(), example), "cnn-traced.pt")
    save(torch.jit.script(Unsupported(a.channels, a.classes)), "unsupported.pt")
    save(torch.jit.script(NoLayers()), "no-layers.pt")
    save(torch.jit.script(TwoInputs()), "two-inputs.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
