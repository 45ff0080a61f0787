#!/usr/bin/env bash
# Dense and conv forward+backward, shrink (bench/KernelBench.cpp) against PyTorch (bench/kernels.py) on
# the same shapes, same work, same flop counting and 2 threads. Both run in alternating rounds in
# this one invocation; GFLOP/s are medians over every repetition of every round.
#
# Usage: bench/kernels.sh [build-dir]      build-dir: default "build", relative to the repo root
# Env:   SHRINK_VENV           Python venv with torch + numpy (created when missing)
#        SHRINK_BENCH_ROUNDS   alternating rounds (default 3)
# Writes bench/results/kernels.json.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
VENV=${SHRINK_VENV:-$HOME/.cache/shrink-venv}
ROUNDS=${SHRINK_BENCH_ROUNDS:-3}
PY="$VENV/bin/python"

if ! [ -x "$PY" ] || ! "$PY" -c "import torch, numpy" 2>/dev/null; then
  echo "== creating the PyTorch venv at $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch numpy
fi

if ! [ -f "$BUILD/CMakeCache.txt" ]; then
  echo "== configuring $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
echo "== building KernelBench in $BUILD"
if ! cmake --build "$BUILD" --target KernelBench -j2 >"$BUILD/kernelbench-build.log" 2>&1; then
  tail -n 40 "$BUILD/kernelbench-build.log" >&2
  exit 1
fi
BIN="$BUILD/bench/KernelBench"
[ -x "$BIN" ] || { echo "KernelBench not found at $BIN" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for r in $(seq "$ROUNDS"); do
  echo "== round $r/$ROUNDS: shrink"
  "$BIN" --benchmark_repetitions=5 --benchmark_min_time=0.3 --benchmark_out="$TMP/shrink_$r.json" \
    --benchmark_out_format=json >/dev/null
  echo "== round $r/$ROUNDS: PyTorch"
  "$PY" "$ROOT/bench/kernels.py" --threads 2 --repeats 5 --min-time 0.3 >"$TMP/torch_$r.json"
done

mkdir -p "$ROOT/bench/results"
"$PY" - "$TMP" "$ROUNDS" "$ROOT/bench/results/kernels.json" "$ROOT" <<'PYEOF'
import json, platform, statistics, subprocess, sys, datetime
tmp, rounds, out_path, root = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
targets = {"dense_128x784x300": 1.0, "conv5x5_1to32_28x28": 0.8, "conv5x5_32to64_14x14": 0.8}
shrink, torch, torch_meta, shrink_ctx = {}, {}, {}, {}
for r in range(1, rounds + 1):
    with open(f"{tmp}/shrink_{r}.json") as f:
        doc = json.load(f)
    shrink_ctx = doc.get("context", {})
    for b in doc["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"].split("/")[0].removeprefix("BM_").lower()
        shrink.setdefault(name, []).append(b["GFLOP/s"])
    with open(f"{tmp}/torch_{r}.json") as f:
        doc = json.load(f)
    torch_meta = doc.pop("_meta")
    for name, v in doc.items():
        torch.setdefault(name, []).extend(v["samples_gflops"])
try:
    commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
except OSError:
    commit = ""
cpu = platform.processor()
try:
    with open("/proc/cpuinfo") as f:
        cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
except (OSError, StopIteration):
    pass
rows, results = [], {}
print()
print(f"{'case (fwd+bwd)':26s} {'shrink GFLOP/s':>15s} {'PyTorch GFLOP/s':>16s} {'ratio':>7s} {'target':>7s}")
for name, target in targets.items():
    s = statistics.median(shrink[name])
    t = statistics.median(torch[name])
    ratio = s / t
    results[name] = {"shrink_gflops": round(s, 2), "torch_gflops": round(t, 2), "ratio": round(ratio, 3),
                     "target_ratio": target, "meets_target": ratio >= target,
                     "shrink_samples": len(shrink[name]), "torch_samples": len(torch[name])}
    print(f"{name:26s} {s:15.1f} {t:16.1f} {ratio:7.2f} {target:7.2f}{'' if ratio >= target else '  (missed)'}")
doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": commit, "cpu": cpu,
       "threads": 2, "rounds": rounds, "statistic": "median over all repetitions of all rounds",
       "torch": torch_meta, "host_load_avg": shrink_ctx.get("load_avg"), "results": results}
with open(out_path, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(f"\nwrote {out_path}")
PYEOF
