"""The built-in models of xbarsweep (include/xbarsweep/nn/models.hpp) in PyTorch: the same
module names, shapes and forward passes, so that `torch.jit.script(LeNet5()).save("lenet5.pt")`
with `model: {name: torchscript, path: lenet5.pt, init: seed}` starts from the built-in model's
weights and computes the same function."""
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    """The built-in `mlp` with its default one hidden layer (model.layers: 1): flatten, fc1 +
    ReLU, fc2 to the classes."""

    def __init__(self, inputs=784, hidden=128, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max pooling: conv 6@5x5 (padding 2 on 28x28 inputs), pool, conv
    16@5x5, pool, 400-120-84-classes."""

    def __init__(self, channels=1, image_size=28, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 6, 5, padding=2 if image_size == 28 else 0)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
