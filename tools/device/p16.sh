#!/usr/bin/env bash
# The P = 16 ResNet game (issue 28; BENCHMARKS "P = 16 with a ResNet surrogate") on the GPU
# machine in one short command: the tiny ResNet surrogate at 8×8 superpixels, the explainer
# started from it (`--explainer-arch resnet`) trained as long as the time box allows (a probe's
# img/s sizes it), and exact Shapley values for 50 test images beside it (5 shard processes,
# scored against a 1-step explainer; the trained one is rescored here with --truth-from).
#
#   OUT=DIR IN=device-in KIT=device-kit tools/device/p16.sh            # on the GPU machine
#   OUT=/tmp/o IN=device-in DRY=1 tools/device/p16.sh                   # here: tiny sizes
#
# IN holds cifar10-jpeg.tar.gz and original.safetensors (a tiny ResNet). Results in $OUT:
# run.log, logs.tar.gz, truth.tar.gz (shard directories), sur.tar.gz, expl.tar.gz.NN.
set -uo pipefail
cd "$(dirname "$0")/../.."
DEFAULT_BUDGET=$([ "${DRY:-0}" = 1 ] && echo 200 || echo 215)
. tools/device/timebox.sh
if [ "$DRY" = 1 ]; then
  IMAGES=2 SHARDS=2 SUR=(--epochs 1 --train-limit 128 --val-limit 32) TRAIN=64 PROBE=32 MAXE=2
  # Exact values take minutes an image on lavapipe: the plumbing runs on a small KernelSHAP.
  TRUTH=(--ground-truth kernelshap --kernelshap-max-evals 1024 --budgets 64)
else
  IMAGES=50 SHARDS=5 SUR=(--epochs 3 --train-limit 8000 --val-limit 500) TRAIN=4000 PROBE=1024 MAXE=200
  TRUTH=(--ground-truth exact)
fi
export FASTSHAP_CACHE=$W/cache PYTHONUNBUFFERED=1
DATA=$IN/cifar10-jpeg.tar.gz
mkdir -p "$W/logs"
. tools/device/gpu_env.sh
log "fastshap=$FS budget=${BUDGET}s"

# 1. The surrogate (each epoch keeps best.safetensors: a cut run still leaves one).
timeout $(($(left) - 150)) "$FS" surrogate --original "$IN/original.safetensors" --arch resnet18 \
  --preset tiny --superpixel 8 --batch-size 64 --data "$DATA" --out "$W/sur" "${SUR[@]}" \
  >"$W/logs/sur.log" 2>&1
log "surrogate: exit $? ($(grep -c '^epoch' "$W/logs/sur.log") epochs)"
S=$W/sur/best.safetensors
[ -f "$S" ] || { log "no surrogate"; (cd "$W" && tar czf "$OUT/logs.tar.gz" logs); exit 1; }

ex() { # out, epochs, train images, extra flags...
  local out=$1 e=$2 n=$3
  shift 3
  "$FS" explainer --surrogate "$S" --data "$DATA" --explainer-arch resnet --samples 8 \
    --batch-size 16 --lr 2e-3 --schedule cosine --early-stop 1000 --val-limit 128 --out "$W/$out" --epochs "$e" \
    --train-limit "$n" "$@"
}
# 2. A 1-step explainer to run the truth against, then the truth in shards, in the background.
ex step1 1 16 >"$W/logs/step1.log" 2>&1
log "step-1 explainer: exit $?"
for k in $(seq 0 $((SHARDS - 1))); do
  timeout $(($(left) - 10)) "$FS" evaluate --explainer "$W/step1/best.safetensors" --surrogate "$S" \
    --original "$IN/original.safetensors" --data "$DATA" --out "$W/truth/s$k" --shard "$k/$SHARDS" \
    --images $IMAGES "${TRUTH[@]}" --kernelshap-images 0 --bootstrap 1000 --no-snapshots \
    --timing-rounds 1 >"$W/logs/truth-$k.log" 2>&1 &
done
# 3. The explainer, sized by a probe (`timeout` runs programs, so `ex` goes through bash).
export -f ex
export FS S DATA W
timeout $(($(left) - 40)) bash -c 'ex probe 1 "$0"' $PROBE >"$W/logs/probe.log" 2>&1
e=$(epochs_fit "$W/logs/probe.log" $TRAIN $MAXE 20)
if [ -n "$e" ]; then
  log "explainer: probe -> $e epochs of $TRAIN"
  timeout $(($(left) - 8)) bash -c 'ex expl "$0" "$1" --snapshots 8' $e $TRAIN >"$W/logs/expl.log" 2>&1
  log "explainer: exit $? ($(grep -c '^epoch' "$W/logs/expl.log") epochs)"
else
  log "explainer: probe failed"
fi
wait
log "truth: $(ls "$W"/truth/s*/records.json 2>/dev/null | wc -l) of $SHARDS shards"
[ -d "$W/truth" ] && (cd "$W" && tar czf "$OUT/truth.tar.gz" truth)
(cd "$W" && tar czf "$OUT/sur.tar.gz" --exclude='optim-*' sur)
[ -d "$W/expl" ] && (cd "$W" && tar czf - --exclude='optim-*' --exclude=last.safetensors expl |
  split -b 15M -d - "$OUT/expl.tar.gz.")
(cd "$W" && tar czf "$OUT/logs.tar.gz" logs)
log "done: $(ls "$OUT" | tr '\n' ' ')"
rm -rf "$W"
