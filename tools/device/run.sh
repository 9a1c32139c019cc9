#!/usr/bin/env bash
# The GPU machine's side of the device kit (DEVELOPERS.md): runs there from the repo root, with
# no Rust toolchain and no network, in at most 8 minutes, and leaves at most 8 files in $OUT:
#   run.log       every step's command, outcome and the short outputs (devices, bench tables)
#   summary.json  each step's status and seconds, and the explainer's ms per image
#   kernels.log   the kernel tests (both kernel classes: the matmul and conv tests force both)
#   bench.json    `fastshap bench all` (the dry run: the UNet model alone)
#   explain.json  FastSHAP inference (`explain_batch`) and the UNet alone at batch 1,000
#   torch.json    the same networks in PyTorch eager on CUDA, TF32 off, same batch
#   reproduce.log a time-boxed cut of `reproduce --preset short` and the stages it finished
# Every step runs under `timeout`, so one hang cannot eat the budget; a failed step is recorded
# and the next one runs.
#
#   OUT=/some/dir tools/device/run.sh            # on the GPU machine, with device-kit/ carried
#   OUT=/tmp/kit tools/device/run.sh --dry-run   # here: the same steps at tiny sizes (lavapipe)
#
# Binaries: $FASTSHAP_BIN and $KERNELS_BIN, else device-kit/ (tools/device/build.sh), else (dry
# run only) this checkout's target/release.
set -uo pipefail
cd "$(dirname "$0")/../.."

DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) echo "usage: OUT=DIR $0 [--dry-run]" >&2; exit 2 ;;
esac
if [ -z "${OUT:-}" ]; then
  echo "run.sh: set OUT to the folder the results go to" >&2
  exit 2
fi
mkdir -p "$OUT" || exit 2
KIT=${KIT:-device-kit}
WORK=$(mktemp -d)
# The device tool gives a command 8 minutes at most (README there); keep a margin for the
# summary and the copy back. The dry run is capped so the test that runs it stays quick.
BUDGET=${BUDGET_S:-$([ $DRY = 1 ] && echo 90 || echo 460)}
START=$(date +%s)
DEADLINE=$((START + BUDGET))
LOG="$OUT/run.log"
STEPS=""   # JSON objects of the finished steps, comma-separated
EXPLAIN_MS=null
: >"$LOG"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }

write_summary() {
  # Rewritten after every step (tmp + rename), so a run killed from outside still leaves one.
  local t=$(($(date +%s) - START))
  printf '{\n "dry_run": %s,\n "build": "%s",\n "seconds": %d,\n "explain_ms_per_image": %s,\n "steps": [%s\n ]\n}\n' \
    "$([ $DRY = 1 ] && echo true || echo false)" "$BUILD" "$t" "$EXPLAIN_MS" "$STEPS" \
    >"$OUT/summary.json.tmp" && mv -f "$OUT/summary.json.tmp" "$OUT/summary.json"
}

record() { # name status seconds file note
  STEPS="$STEPS${STEPS:+,}
  {\"name\": \"$1\", \"status\": \"$2\", \"seconds\": $3, \"file\": \"$4\", \"note\": \"$5\"}"
  log "$1: $2 after $3 s${5:+ ($5)}"
  write_summary
}

# step NAME CAP FILE EXPECT_CUT CMD...: CMD with at most CAP seconds (fewer when the budget is
# nearly spent), output appended to FILE. A timeout is 'cut' where EXPECT_CUT=1 (a deliberately
# time-boxed run), else 'timeout'.
step() {
  local name=$1 cap=$2 file=$3 cut=$4
  shift 4
  local left=$((DEADLINE - $(date +%s)))
  local t=$((cap < left ? cap : left))
  if [ "$t" -lt 5 ]; then
    record "$name" skipped 0 "$(basename "$file")" "no time left in the ${BUDGET} s budget"
    return
  fi
  log "$name: $* (at most $t s)"
  local t0
  t0=$(date +%s)
  timeout -k 5 "$t" "$@" >>"$file" 2>&1
  local rc=$? status
  case $rc in
    0) status=ok ;;
    124 | 137) status=$([ "$cut" = 1 ] && echo cut || echo timeout) ;;
    *) status="failed (exit $rc)" ;;
  esac
  record "$name" "$status" $(($(date +%s) - t0)) "$(basename "$file")" ""
}

# --- binaries --------------------------------------------------------------------------------
newest() { ls -t "$@" 2>/dev/null | head -1; }
FASTSHAP=${FASTSHAP_BIN:-}
KERNELS=${KERNELS_BIN:-}
[ -z "$FASTSHAP" ] && [ -x "$KIT/fastshap" ] && FASTSHAP=$KIT/fastshap
[ -z "$KERNELS" ] && [ -x "$KIT/kernels" ] && KERNELS=$KIT/kernels
if [ $DRY = 1 ]; then
  TARGET=${CARGO_TARGET_DIR:-target}
  [ -z "$FASTSHAP" ] && FASTSHAP=$TARGET/release/fastshap
  # The kernel-test binary has a hash in its name: the newest one built.
  [ -z "$KERNELS" ] && KERNELS=$(newest $(find "$TARGET/release/deps" -maxdepth 1 -type f \
    -name 'kernels-*' ! -name '*.*' -perm -u+x 2>/dev/null))
fi
PYDIR=$KIT/py
[ -f "$PYDIR/torch_bench_models.py" ] || PYDIR=tools
BUILD=$(head -1 "$KIT/BUILD.txt" 2>/dev/null | tr -d '"\\' || true)
BUILD=${BUILD:-no $KIT/BUILD.txt}
log "device kit run ($([ $DRY = 1 ] && echo dry run || echo full)): fastshap=$FASTSHAP kernels=${KERNELS:-none} build: $BUILD"
write_summary
if [ ! -x "$FASTSHAP" ]; then
  record setup failed 0 run.log "no fastshap binary at $FASTSHAP: run tools/device/build.sh and carry $KIT"
  exit 1
fi

# --- Vulkan loader and driver ----------------------------------------------------------------
. tools/device/gpu_env.sh
export PYTHONUNBUFFERED=1 # the log keeps what Python printed before a timeout
log "$(ldd --version 2>&1 | head -1); kit: $(sed -n 2p "$KIT/BUILD.txt" 2>/dev/null)"
command -v nvidia-smi >/dev/null &&
  timeout 15 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv >>"$LOG" 2>&1

# --- steps -----------------------------------------------------------------------------------
step devices 30 "$LOG" 0 "$FASTSHAP" devices

if [ -x "${KERNELS:-}" ]; then
  if [ $DRY = 1 ]; then
    step kernels 60 "$OUT/kernels.log" 0 "$KERNELS" elementwise
  else
    step kernels 150 "$OUT/kernels.log" 0 "$KERNELS"
  fi
else
  record kernels "$([ $DRY = 1 ] && echo skipped || echo failed)" 0 kernels.log "no kernel-test binary (build.sh puts one in $KIT)"
fi

if [ $DRY = 1 ]; then
  # Plumbing only: `bench all`'s conv and attention suites (fixed ResNet18/ViT shapes) take 40 s
  # on an idle 2-core lavapipe machine and over 90 s on a loaded or slower one.
  step bench 60 "$LOG" 0 "$FASTSHAP" bench models --models unet --batch 1 --json "$OUT/bench.json"
  EXPLAIN_BATCH=1
  step explain 60 "$LOG" 0 "$FASTSHAP" bench models --models explain --batch 1 --json "$OUT/explain.json"
else
  step bench 120 "$LOG" 0 "$FASTSHAP" bench all --json "$OUT/bench.json"
  EXPLAIN_BATCH=1000
  step explain 90 "$LOG" 0 "$FASTSHAP" bench models --models explain,unet --batch 1000 --reps 3 --json "$OUT/explain.json"
fi
# ms per image of the explain row: its secs over its batch (serde's pretty JSON, one key a line).
if [ -f "$OUT/explain.json" ]; then
  EXPLAIN_MS=$(awk -v b="$EXPLAIN_BATCH" '/"kernel": "model\/explain/ {e=1} e && /"secs":/ {gsub(/[ ,]/, "", $2); printf "%.6g", $2 * 1000 / b; exit}' "$OUT/explain.json")
  [ -n "$EXPLAIN_MS" ] || EXPLAIN_MS=null
  log "explainer inference: $EXPLAIN_MS ms/image at batch $EXPLAIN_BATCH"
  write_summary
fi

if ! python3 -c 'import torch' >/dev/null 2>&1; then
  record torch skipped 0 torch.json "PyTorch is not importable here"
elif [ $DRY = 1 ]; then
  step torch 60 "$LOG" 0 python3 "$PYDIR/torch_bench_models.py" --device cpu --batch 1 --json "$OUT/torch.json"
elif ! python3 -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' >/dev/null 2>&1; then
  record torch skipped 0 torch.json "PyTorch sees no CUDA device"
else
  # Same networks and batch as `bench all` (its models default to batch 64), TF32 off.
  step torch 120 "$LOG" 0 python3 "$PYDIR/torch_bench_models.py" --device cuda --batch 64 --json "$OUT/torch.json"
fi

# Whatever time is left goes to the reproduction; being cut short is expected.
if [ $DRY = 1 ]; then
  step reproduce 8 "$OUT/reproduce.log" 1 "$FASTSHAP" reproduce --preset smoke --out "$WORK/repro" --quiet
else
  step reproduce 600 "$OUT/reproduce.log" 1 "$FASTSHAP" reproduce --preset short --out "$WORK/repro" --quiet
fi
{
  echo "stages finished:"
  find "$WORK/repro" -name stage.json 2>/dev/null | sed "s|$WORK/repro/||; s|/stage.json||" | sort
} >>"$OUT/reproduce.log"

log "done in $(($(date +%s) - START)) s; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
write_summary
rm -rf "$WORK"
