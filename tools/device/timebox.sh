# Sourced by the experiment scripts (p256.sh, p16.sh) after `cd` to the repo root: their shared
# start. Takes OUT, IN, KIT, DRY (defaults: device-in, device-kit, 0) and DEFAULT_BUDGET (seconds;
# BUDGET_S overrides); gives W (scratch), LOG ($OUT/run.log), FS (the fastshap binary: the kit's,
# or this checkout's release build in a dry run), `left` (seconds to the deadline), `log` and
# `epochs_fit`.
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

# epochs_fit PROBE_LOG IMAGES MOST RESERVE: epochs of IMAGES training images that fit in 80% of
# the time left less RESERVE seconds, at the img/s of a probe run's last epoch line (1 to MOST;
# nothing printed when the probe logged no rate).
epochs_fit() {
  local rate
  rate=$(grep -o '[0-9.]* img/s' "$1" | tail -1 | cut -d' ' -f1)
  [ -n "$rate" ] && awk -v r="$rate" -v t=$(($(left) - $4)) -v n="$2" -v m="$3" \
    'BEGIN { e = int(0.8 * t * r / n); if (e < 1) e = 1; if (e > m) e = m; print e }'
}
