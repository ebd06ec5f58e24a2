#!/usr/bin/env bash
# One check of a lent GPU in at most 5 minutes, run from the repository root:
#
#     MNIST=../shared/datasets/mnist OUT=/tmp/gpu_check bash benchmarks/gpu_check.sh
#
# It prints (and writes to $OUT/gpu_check.log), most important first, each part under
# its own time limit so a slow part cannot eat the rest:
#   1. the GPU tests (tests/train/test_cuda.py: exact resume of graphs and of k steps per
#      graph; tests/benchmarks/test_bound.py: the bound's captured replay);
#   2. the main job (classic, its 40 epochs, light evaluation every 5) with CUDA graphs, then
#      with 8 steps per graph: `mnistgan train` prints its wall-clock split;
#   3. 200 epochs of classic (light evaluation off), 8 steps per graph, its wall time;
#   4. every preset's throughput table under each fast path (8 steps per graph
#      included), each preset in its own process, so a failure costs one table.
# Without a GPU it says so in one line and exits 0. DRY_RUN=1 prints each command instead
# of running it (tests/benchmarks/test_gpu_check.py parses them on the CPU).
set -uo pipefail
MNIST=${MNIST:-../shared/datasets/mnist}
OUT=${OUT:-/tmp/gpu_check}
DRY_RUN=${DRY_RUN:-}
export PYTHONPATH="$PWD/src:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

# run SECONDS CMD...: CMD under a time limit (or, with DRY_RUN, the command printed)
run() {
    local limit=$1
    shift
    if [ -n "$DRY_RUN" ]; then echo "$*"; else timeout "$limit" "$@"; fi
}

if [ -z "$DRY_RUN" ]; then
    if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
        echo "gpu_check: no CUDA device here; nothing to check (the GPU tests skip on this machine)"
        exit 0
    fi
    mkdir -p "$OUT"
    exec > >(tee "$OUT/gpu_check.log") 2>&1
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())"
fi
start=$SECONDS
part() { [ -n "$DRY_RUN" ] || { echo; echo "== $1 (at $((SECONDS - start))s)"; }; }
TRAIN=(python -m mnistgan train --device cuda --data-dir "$MNIST" --no-download --outdir "$OUT/runs")

part "1. GPU tests"
run 90 python -m pytest -q -p no:cacheprovider tests/train/test_cuda.py tests/benchmarks/test_bound.py

part "2. the main job on the GPU: classic, its 40 epochs, light evaluation every 5 (wall time from process start)"
run 45 "${TRAIN[@]}" --cuda-graphs --name main-graphs
run 45 "${TRAIN[@]}" --cuda-graphs --steps-per-graph 8 --name main-k8

part "3. classic, 200 epochs, 8 steps per graph, light evaluation off"
t0=$SECONDS
run 60 "${TRAIN[@]}" --cuda-graphs --steps-per-graph 8 --set train.epochs=200 --eval-every 0 --name classic200
[ -n "$DRY_RUN" ] || echo "wall time for 200 epochs, as the shell saw it: $((SECONDS - t0)) s"

part "4. every preset's throughput under each fast path (one process each)"
for preset in $(python -c 'from mnistgan.config import PRESETS; print(*PRESETS)'); do  # every preset, as registered
    left=$((295 - (SECONDS - start)))
    [ -n "$DRY_RUN" ] || [ "$left" -gt 15 ] || { echo "(no time left for $preset)"; continue; }
    run "$left" python benchmarks/train_throughput.py --device cuda --data-dir "$MNIST" --presets "$preset" \
        --steps 100 --rounds 3
done
[ -n "$DRY_RUN" ] || { cp "$OUT"/runs/*classic200/samples/epoch_0200.png "$OUT/classic200.png" 2>/dev/null
                       echo; echo "gpu_check: done in $((SECONDS - start)) s"; }
