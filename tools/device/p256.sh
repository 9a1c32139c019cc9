#!/usr/bin/env bash
# The P = 256 experiment's heavy half on the GPU machine (issue 28; README "P = 256"): in one
# time-boxed command, beside a first look at the engine on that GPU,
#   1. `fastshap devices`, `bench matmul` and `bench game`, PyTorch's fp32 matmul (TF32 off) on
#      the same card, and the kernel tests (in the background);
#   2. the ground truth: one `evaluate --shard K/N` process per image, several at once, the
#      images that needed most evaluations before first (IN/order.txt), each under `timeout`;
#   3. beside it, two explainers of the same surrogate trained as long as the time box allows
#      (ViT explainer started from the surrogate, and the paper's UNet), each sized by a short
#      probe run's img/s, with log-spaced snapshots for the learning curve.
# Everything measured on the CPU side (merging the shards, scoring explainers against the truth
# with `evaluate --truth-from`, FastSHAP's cost) is done afterwards on the 2-core machine.
#
#   OUT=DIR IN=device-in KIT=device-kit tools/device/p256.sh          # on the GPU machine
#   OUT=/tmp/o IN=device-in DRY=1 SHARDS=2 tools/device/p256.sh         # here: tiny sizes
#
# IN holds cifar10-jpeg.tar.gz, original/surrogate/explainer .safetensors and order.txt (shard
# positions, most expensive first; DEVELOPERS.md says how to make it). Results: $OUT/run.log,
# logs.tar.gz, truth-a/-b.tar.gz (the shards' directories), vit.tar.gz.NN and unet.tar.gz.NN
# (the training runs' weights, in parts of at most 15 MB: `cat vit.tar.gz.* | tar xz`). The
# first run (2026-12-04, H200) took 369 s: the truth 213 s, each training 345 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
DEFAULT_BUDGET=$([ "${DRY:-0}" = 1 ] && echo 150 || echo 520)
. tools/device/timebox.sh
KT=${KERNELS_BIN:-$KIT/kernels}
if [ "$DRY" = 1 ]; then
  KT=${KERNELS_BIN:-} # the whole kernel suite takes minutes on lavapipe
  N=${SHARDS:-2} PAR=2 CAP=4096 TOL=0.5 TRAIN=256 PROBE=64 MAXE=2 BUDGETS=514
else
  N=${SHARDS:-50} PAR=${PAR:-10} CAP=4194304 TOL=0.1 TRAIN=28000 PROBE=2048 MAXE=40 BUDGETS=514,1028,2056,4112
fi
export FASTSHAP_CACHE=$W/cache PYTHONUNBUFFERED=1
DATA=$IN/cifar10-jpeg.tar.gz

# --- Vulkan loader and NVIDIA's driver -----------------------------------------------------------
. tools/device/gpu_env.sh
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >>"$LOG" 2>&1
log "fastshap=$FS kernels=$KT shards=$N parallel=$PAR cap=$CAP tolerance=$TOL budget=${BUDGET}s $(nproc) cores"
mkdir -p "$W/logs"
if ! timeout 30 "$FS" devices >>"$LOG" 2>&1; then
  # Nothing else can run: say why (the loader's own account) and stop while time is cheap.
  log "devices failed; the Vulkan loader says:"
  VK_LOADER_DEBUG=error,warn,driver timeout 30 "$FS" devices 2>&1 | tail -40 >>"$LOG"
  ls -la /usr/local/nvidia/lib64 2>&1 | grep -i -E "vulkan|glx|nvidia.so" | head >>"$LOG"
  [ "$DRY" = 1 ] || exit 1
fi

# --- 1. a first look: kernels' speed, the game's evaluations/s, PyTorch's matmul ---------------
if [ "$DRY" = 1 ]; then
  timeout 40 "$FS" bench matmul --sizes 256 --json "$W/logs/bench-matmul.json" >>"$LOG" 2>&1
else
  timeout 45 "$FS" bench matmul --sizes 1024,4096 --json "$W/logs/bench-matmul.json" >>"$LOG" 2>&1
  timeout 40 "$FS" bench game --json "$W/logs/bench-game.json" >>"$LOG" 2>&1
  timeout 30 python3 - >>"$LOG" 2>&1 <<'EOF'
import time, torch
torch.backends.cuda.matmul.allow_tf32 = False
for n in (1024, 4096):
    a = torch.randn(n, n, device="cuda"); b = torch.randn(n, n, device="cuda")
    for _ in range(3): a @ b
    torch.cuda.synchronize(); t = time.perf_counter(); r = 20
    for _ in range(r): a @ b
    torch.cuda.synchronize(); s = (time.perf_counter() - t) / r
    print(f"torch matmul {n}^3 fp32 (TF32 off) on {torch.cuda.get_device_name()}: {2*n**3/s/1e9:.0f} GFLOP/s")
EOF
fi
log "first look done"
if [ -x "$KT" ]; then
  (timeout 200 "$KT" >"$W/logs/kernels.log" 2>&1; echo "kernel tests exit $?" >>"$W/logs/kernels.log") &
fi

# --- 3. explainers, in the background ----------------------------------------------------------
S=$IN/surrogate.safetensors
train() { # name, snapshots, extra flags...
  local name=$1 snaps=$2
  shift 2
  local common=(--surrogate "$S" --data "$DATA" --samples 16 --val-samples 16 --batch-size 32
    --lr 2e-3 --schedule cosine --val-limit 128 "$@")
  timeout $(($(left) - 60)) "$FS" explainer "${common[@]}" --out "$W/probe-$name" --epochs 1 \
    --train-limit $PROBE >"$W/logs/probe-$name.log" 2>&1
  local e
  e=$(epochs_fit "$W/logs/probe-$name.log" $TRAIN $MAXE 25)
  [ -n "$e" ] || { log "$name: probe failed"; return; }
  log "$name: probe -> $e epochs of $TRAIN"
  timeout $(($(left) - 10)) "$FS" explainer "${common[@]}" --out "$W/$name" --epochs "$e" \
    --train-limit $TRAIN --snapshots "$snaps" >"$W/logs/$name.log" 2>&1
  log "$name: training exit $? ($(grep -c '^epoch' "$W/logs/$name.log") epochs logged)"
}
train vit 10 --explainer-arch vit &
train unet 5 --preset full &

# --- 2. the ground truth, one image per process ------------------------------------------------
truth() {
  local k=$1 t
  t=$(($(left) - 15))
  [ "$t" -gt 10 ] || { echo "shard $k: no time left" >>"$W/logs/truth-skipped.log"; return; }
  timeout "$t" "$FS" evaluate --explainer "$IN/explainer.safetensors" --surrogate "$S" \
    --original "$IN/original.safetensors" --data "$DATA" --out "$W/truth/s$k" --shard "$k/$N" \
    --images $N --kernelshap-max-evals $CAP --truth-tolerance $TOL --kernelshap-threshold 0.05 \
    --batch-size 1024 --budgets $BUDGETS --bootstrap 1000 --no-snapshots --timing-rounds 1 \
    >"$W/logs/truth-$k.log" 2>&1
  echo "shard $k exit $? at +$(($(date +%s) - START))s" >>"$W/logs/truth-done.log"
}
export -f truth left
export W FS IN S DATA N CAP TOL BUDGETS DEADLINE START
ORDER=$(cat "$IN/order.txt" 2>/dev/null || seq 0 $((N - 1)))
ORDER=$(for k in $ORDER; do [ "$k" -lt "$N" ] && echo "$k"; done)
first=$(echo "$ORDER" | head -1)
log "truth: shard $first first (it warms the data cache), then $PAR at a time"
truth "$first" &
sleep 20
echo "$ORDER" | tail -n +2 | xargs -P "$PAR" -I{} bash -c 'truth {}'
wait
log "truth: $(ls -d "$W"/truth/s*/records.json 2>/dev/null | wc -l) of $N shards wrote records"

# --- results -----------------------------------------------------------------------------------
# Half the shards in each archive (each file comes back only under 16 MiB).
if [ -d "$W/truth" ]; then
  (cd "$W/truth" && ls | awk 'NR % 2 == 1' | tar czf "$OUT/truth-a.tar.gz" -T -)
  (cd "$W/truth" && ls | awk 'NR % 2 == 0' | tar czf "$OUT/truth-b.tar.gz" -T -)
fi
# Weights only (no optimizer state): the paper's UNet (6 MB a checkpoint) goes back in 15 MB parts.
for r in vit unet; do
  [ -d "$W/$r" ] && (cd "$W" && tar czf - --exclude='optim-*' --exclude=last.safetensors "$r" |
    split -b 15M -d - "$OUT/$r.tar.gz.")
done
(cd "$W" && tar czf "$OUT/logs.tar.gz" logs)
log "done: $(ls -la "$OUT" | awk 'NR>1 {print $5, $9}' | tr '\n' ' ')"
rm -rf "$W"
