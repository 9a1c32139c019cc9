#!/usr/bin/env bash
# Prints each test binary's wall time from one `cargo test --release` run, beside this machine's
# lavapipe speed (`fastshap bench matmul` at 512³), so a slow machine is recognisable in the
# figures (lavapipe speed differs up to 7× between machines of the same kind).
# Usage: tools/test_times.sh [extra cargo test args, e.g. -- --ignored]
set -uo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
cargo build --release -q || exit 1
gflops=$(./target/release/fastshap bench matmul 2>/dev/null |
  awk '$1 == "matmul/cpu-regblock" && $2 == "512x512x512" {print $4}')
load=$(cut -d' ' -f1-3 /proc/loadavg)
log=$(mktemp)
start=$(date +%s)
cargo test --release --no-fail-fast "$@" >"$log" 2>&1
rc=$?
total=$(( $(date +%s) - start ))
echo "Machine: $(nproc) cores, lavapipe matmul 512³ (cpu-regblock) ${gflops:-?} GFLOP/s, load average before: $load"
echo
echo "| test binary | tests | seconds |"
echo "|---|---|---|"
awk '
  /^ *Running / { bin = ($2 == "unittests") ? "unittests " $3 : $2 }
  /^ *Doc-tests / { bin = "doc-tests " $2 }
  /^test result:/ {
    n = 0; for (i = 1; i <= NF; i++) if ($i == "passed;") n += $(i-1); else if ($i == "failed;") n += $(i-1)
    t = $NF; sub(/s$/, "", t)
    if (bin != "") printf "| %s | %d | %.1f |\n", bin, n, t
  }' "$log" | sort -t'|' -k4 -rn
echo
echo "Total wall time (build included): ${total} s; cargo test exit code $rc"
grep -E "^test .* FAILED|^failures:" "$log" | head -20
exit $rc
