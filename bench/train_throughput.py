"""PyTorch side of bench/train_throughput: one epoch of Fashion-MNIST training, batch 128, Adam,
for the architectures of shrink's presets. PyTorch gets its best CPU settings: the data preloaded
as one tensor (no DataLoader, no workers), a given number of intra-op threads, no anomaly checks,
set_to_none gradients. Only the epoch loop is timed (data loading and model construction are not).

Prints one JSON object per model: {"model": ..., "samples_per_second": ..., "seconds": ..., "loss": ...}.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def build(name):
    if name == "lenet300":
        widths = [784, 300, 100, 10]
    elif name == "mlp-deep":
        widths = [784, 512, 512, 256, 256, 128, 128, 64, 64, 32, 32, 10]
    elif name == "seed-cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.BatchNorm2d(32, eps=1e-3, momentum=0.01),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.4), nn.Linear(1024, 10))
    else:
        raise SystemExit(f"unknown model {name}")
    layers = [nn.Flatten()]
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--models", default="lenet300,mlp-deep,seed-cnn")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.autograd.set_detect_anomaly(False)
    torch.manual_seed(42)
    x = torch.from_numpy(read_idx(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0)
    x = x.reshape(-1, 1, 28, 28).contiguous()
    y = torch.from_numpy(read_idx(os.path.join(args.data_dir, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    n = x.shape[0]
    for name in args.models.split(","):
        model = build(name)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        loss_fn = nn.CrossEntropyLoss()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        seconds = time.perf_counter() - t0
        print(json.dumps({"model": name, "samples_per_second": n / seconds, "seconds": seconds, "loss": total / n,
                          "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
