"""Prints and plots `shrink sweep --json` results: test accuracy against sparsity, one line per kind.

Usage: plot_sweep.py TRAIN_JSON SWEEP_JSON [SWEEP_JSON ...] --out PREFIX
Writes PREFIX.json (the merged figures) and PREFIX.png.
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("sweeps", nargs="+")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    with open(args.train) as f:
        train = json.load(f)
    sweeps = []
    for path in args.sweeps:
        with open(path) as f:
            sweeps.append(json.load(f))

    kinds = [s["kind"] for s in sweeps]
    print(f"dense test accuracy {100 * train['test_accuracy']:.2f}%  (layers pruned: {', '.join(sweeps[0]['layers'])})")
    print("k      " + "".join(f"{k:>18}" for k in kinds))
    for i, row in enumerate(sweeps[0]["levels"]):
        cells = "".join(f"{100 * s['levels'][i]['test_accuracy']:>17.2f}%" for s in sweeps)
        print(f"{row['level']:<7.2f}{cells}")

    fig, ax = plt.subplots(figsize=(6, 4))
    for s in sweeps:
        xs = [100 * r["sparsity"] for r in s["levels"]]
        ys = [100 * r["test_accuracy"] for r in s["levels"]]
        ax.plot(xs, ys, marker="o", label=f"{s['kind']} pruning")
    ax.set_xlabel("sparsity of the pruned layers (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"One-shot pruning of {sweeps[0]['model'].split('/')[-1]} on MNIST, no fine-tuning")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=120)
    with open(args.out + ".json", "w") as f:
        json.dump({"dense_test_accuracy": train["test_accuracy"], "sweeps": sweeps}, f, indent=1)
    print(f"wrote {args.out}.png and {args.out}.json")


if __name__ == "__main__":
    main()
