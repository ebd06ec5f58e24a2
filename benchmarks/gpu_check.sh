#!/usr/bin/env bash
# One check of a lent GPU in at most 5 minutes, run from the repository root:
#
#     MNIST=../shared/datasets/mnist OUT=/tmp/gpu_check bash benchmarks/gpu_check.sh
#
# It prints (and writes to $OUT/gpu_check.log), most important first, each part under
# its own time limit so a slow part cannot eat the rest:
#   1. classic's throughput under each fast path, beside the tutorial loop and the
#      matmul bound (benchmarks/train_throughput.py);
#   2. classic's usual 200-epoch schedule with CUDA graphs, timed, then evaluated;
#   3. the test suite's GPU tests (tests/train/test_cuda.py);
#   4. dcgan-cond, bf16 + CUDA graphs, 10 epochs, then evaluated;
#   5. the other presets' throughput.
# Without a GPU it says so and exits 0 (the CPU fallback: nothing here needs one to be tested).
set -uo pipefail
MNIST=${MNIST:-../shared/datasets/mnist}
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec > >(tee "$OUT/gpu_check.log") 2>&1

if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device here; nothing to check (the GPU tests skip on this machine)"
    exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())"
start=$SECONDS
part() { echo; echo "== $1 (at ${SECONDS}s)"; }

part "1. classic throughput"
timeout 75 python benchmarks/train_throughput.py --device cuda --data-dir "$MNIST" --presets classic --steps 200 --rounds 5

part "2. classic, 200 epochs, CUDA graphs, light evaluation off"
t0=$SECONDS
timeout 90 python -m mnistgan train --device cuda --cuda-graphs --set train.epochs=200 --eval-every 0 \
    --data-dir "$MNIST" --no-download --outdir "$OUT/runs" --name classic200
echo "wall time for 200 epochs (process start, data load and per-epoch files included): $((SECONDS - t0)) s"
grep '"img_per_s"' "$OUT"/runs/*classic200/metrics.jsonl | tail -1
timeout 60 python -m mnistgan evaluate "$OUT"/runs/*classic200 --last --data-dir "$MNIST" -n 10000

part "3. GPU tests"
timeout 100 python -m pytest -q -p no:cacheprovider tests/train/test_cuda.py

part "4. dcgan-cond, bf16 + CUDA graphs, 10 epochs"
timeout 60 python -m mnistgan train --preset dcgan-cond --device cuda --cuda-graphs --set train.epochs=10 \
    --data-dir "$MNIST" --no-download --outdir "$OUT/runs" --name dcgan10
timeout 40 python -m mnistgan evaluate "$OUT"/runs/*dcgan10 --data-dir "$MNIST" -n 10000

part "5. the other presets' throughput (one process each: a failure costs one table)"
for preset in classic-cond dcgan dcgan-cond; do
    left=$((295 - (SECONDS - start)))
    [ "$left" -gt 15 ] || { echo "(no time left for $preset)"; continue; }
    timeout "$left" python benchmarks/train_throughput.py --device cuda --data-dir "$MNIST" --presets "$preset" \
        --steps 100 --rounds 3
done
cp "$OUT"/runs/*classic200/samples/epoch_0200.png "$OUT/classic200.png" 2>/dev/null
cp "$OUT"/runs/*dcgan10/samples/epoch_0010.png "$OUT/dcgan10.png" 2>/dev/null
echo; echo "gpu_check: done in $((SECONDS - start)) s"
