#!/usr/bin/env python3
"""PyTorch (Python) training throughput of LeNet-5, the baseline of train_speed_vs_pytorch.

The same model as xbarsweep::nn::LeNet5 (28x28 input, conv1 padding 2, ReLU, max pooling,
400-120-84-10), the same loop as xbarsweep::nn::train_epoch (a shuffled permutation per epoch,
index_select of each batch, cross-entropy, SGD with momentum 0.9), random data, one thread.
Prints one line per repetition: `samples_per_s: X`. Called by bench_train_speed, interleaved
with the LibTorch measurement; runs alone too:
    /usr/bin/python3 bench/compress/train_speed_pytorch.py --batch 64 --batches 100 --reps 3
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from xbarsweep.models import LeNet5  # noqa: E402  the same model as xbarsweep::nn::LeNet5


def epoch(model, opt, x, y, batch, gen):
    model.train()
    order = torch.randperm(x.shape[0], generator=gen)
    for begin in range(0, x.shape[0], batch):
        idx = order[begin:begin + batch]
        out = model(x.index_select(0, idx))
        loss = F.cross_entropy(out, y.index_select(0, idx))
        opt.zero_grad()
        loss.backward()
        opt.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    n = a.batch * a.batches
    x = torch.randn(n, 1, 28, 28)
    y = torch.randint(0, 10, (n,))
    model = LeNet5()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    epoch(model, opt, x[: a.batch * 10], y[: a.batch * 10], a.batch, gen)  # warm-up
    for _ in range(a.reps):
        t0 = time.perf_counter()
        epoch(model, opt, x, y, a.batch, gen)
        print(f"samples_per_s: {n / (time.perf_counter() - t0):.1f}", flush=True)


if __name__ == "__main__":
    main()
