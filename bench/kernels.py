"""PyTorch reference timings for bench/KernelBench.cpp: the same shapes, the same work and the same
flop counting, on the CPU with 2 threads (oneDNN for convolutions, MKL for GEMM).

Work per iteration (matching shrink's benchmark):
  dense : y = x W^T + b, backward to x, W and b            flops = 3 * 2 * N * in * out
  conv1 : 5x5 conv 1->32 'same' on 28x28, input needs no gradient (a first layer):
          forward, dW and db                              flops = 2 * 2 * N * F * C * kh * kw * OH * OW
  conv2 : 5x5 conv 32->64 'same' on 14x14, backward to x, W and b
                                                          flops = 3 * 2 * N * F * C * kh * kw * OH * OW
Prints one JSON object {name: {"gflops": median, "seconds": median, "samples_gflops": [...]}} on stdout.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def dense_case(n=128, fin=784, fout=300):
    x = torch.randn(n, fin, requires_grad=True)
    w = torch.randn(fout, fin, requires_grad=True)
    b = torch.randn(fout, requires_grad=True)
    g = torch.randn(n, fout)

    def step():
        for t in (x, w, b):
            t.grad = None
        F.linear(x, w, b).backward(g)

    return step, 3 * 2 * n * fin * fout


def conv_case(n, c, h, w_, f, k, input_grad):
    x = torch.randn(n, c, h, w_, requires_grad=input_grad)
    w = torch.randn(f, c, k, k, requires_grad=True)
    b = torch.randn(f, requires_grad=True)
    g = torch.randn(n, f, h, w_)  # 'same', stride 1: output size equals input size

    def step():
        for t in (x, w, b):
            t.grad = None
        F.conv2d(x, w, b, padding="same").backward(g)

    passes = 3 if input_grad else 2
    return step, passes * 2 * n * f * c * k * k * h * w_


def measure(step, flops, min_time, repeats):
    for _ in range(3):
        step()
    # Calibrate the inner iteration count so one repeat lasts about min_time seconds.
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        dt = time.perf_counter() - t0
        if dt >= min_time / 4 or iters >= 1 << 16:
            break
        iters *= 2
    iters = max(1, int(iters * min_time / max(dt, 1e-9)))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        samples.append((time.perf_counter() - t0) / iters)
    sec = statistics.median(samples)
    return {"seconds": sec, "gflops": flops / sec / 1e9, "flops": flops, "iters": iters,
            "samples_gflops": [flops / s / 1e9 for s in samples]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = {
        "dense_128x784x300": dense_case(),
        "conv5x5_1to32_28x28": conv_case(32, 1, 28, 28, 32, 5, input_grad=False),
        "conv5x5_32to64_14x14": conv_case(32, 32, 14, 14, 64, 5, input_grad=True),
    }
    out = {name: measure(step, flops, args.min_time, args.repeats) for name, (step, flops) in cases.items()}
    out["_meta"] = {"torch": torch.__version__, "threads": torch.get_num_threads(),
                    "mkldnn": torch.backends.mkldnn.is_available()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
