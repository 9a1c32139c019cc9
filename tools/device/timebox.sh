# Sourced by the experiment scripts (p256.sh, p16.sh) after `cd` to the repo root: their shared
# start. Takes OUT, IN, KIT, DRY (defaults: device-in, device-kit, 0) and DEFAULT_BUDGET (seconds;
# BUDGET_S overrides); gives W (scratch), LOG ($OUT/run.log), FS (the fastshap binary: the kit's,
# or this checkout's release build in a dry run), `left` (seconds to the deadline) and `log`.
: "${OUT:?set OUT}" "${IN:=device-in}" "${KIT:=device-kit}" "${DRY:=0}"
mkdir -p "$OUT"
W=$(mktemp -d)
LOG=$OUT/run.log
START=$(date +%s)
BUDGET=${BUDGET_S:-$DEFAULT_BUDGET}
DEADLINE=$((START + BUDGET))
left() { echo $((DEADLINE - $(date +%s))); }
log() { echo "[$(date -u +%H:%M:%S) +$(($(date +%s) - START))s] $*" | tee -a "$LOG"; }
FS=${FASTSHAP_BIN:-$KIT/fastshap}
[ "$DRY" = 1 ] && [ ! -x "$FS" ] && FS=target/release/fastshap
