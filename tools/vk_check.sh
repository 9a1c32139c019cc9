#!/usr/bin/env bash
# Runs a command (a cargo test) under the Khronos Vulkan validation layer, optionally on
# SwiftShader's Vulkan driver instead of the system's, and fails on any validation message.
#
# Usage: tools/vk_check.sh [--swiftshader] COMMAND...
#   --swiftshader   use Chromium's SwiftShader Vulkan driver (/usr/lib/chromium), the second
#                   Vulkan implementation beside Mesa's lavapipe.
# Skips (exit 0, with a note) where the driver or the layer is not installed, unless CI asked
# for them: FASTSHAP_REQUIRE_CHROMIUM (SwiftShader), FASTSHAP_REQUIRE_VK_VALIDATION (the layer);
# .ci/run installs both and sets both.
set -euo pipefail

swiftshader=0
if [[ ${1:-} == --swiftshader ]]; then swiftshader=1; shift; fi
[[ $# -gt 0 ]] || { echo "usage: $0 [--swiftshader] COMMAND..." >&2; exit 2; }
command="$*"

skip_or_fail() { # $1: the variable that makes it required, $2: what is missing
    if [[ -n ${!1:-} ]]; then echo "error: $2 ($1 is set)" >&2; exit 1; fi
    echo "note: $2: '$command' skipped" >&2
    exit 0
}

if [[ $swiftshader == 1 ]]; then
    icd=/usr/lib/chromium/vk_swiftshader_icd.json
    [[ -f $icd ]] || skip_or_fail FASTSHAP_REQUIRE_CHROMIUM "no SwiftShader Vulkan driver ($icd; Debian: apt-get install chromium)"
    export VK_ICD_FILENAMES=$icd
fi

layer=""
for d in /usr/share/vulkan/explicit_layer.d /usr/local/share/vulkan/explicit_layer.d /etc/vulkan/explicit_layer.d; do
    [[ -f $d/VkLayer_khronos_validation.json ]] && layer=$d/VkLayer_khronos_validation.json
done
[[ -n $layer ]] || skip_or_fail FASTSHAP_REQUIRE_VK_VALIDATION "no Khronos validation layer (Debian: apt-get install vulkan-validationlayers)"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# One log per run: the layer truncates it when a process starts, so COMMAND should run one
# Vulkan process (one test binary). `info` too, for the layer's "Khronos Validation Layer Active" line, the proof it ran.
# No shader validation cache: on a fresh machine its missing file is itself an `info` message
# (UNASSIGNED-cache-file-error), and a cache would carry state from one run to the next.
cat >"$dir/vk_layer_settings.txt" <<SETTINGS
khronos_validation.debug_action = VK_DBG_LAYER_ACTION_LOG_MSG
khronos_validation.log_filename = $dir/log.txt
khronos_validation.report_flags = error,warn,perf,info
khronos_validation.disables = VK_VALIDATION_FEATURE_DISABLE_SHADER_VALIDATION_CACHE_EXT
SETTINGS
export VK_LAYER_SETTINGS_PATH=$dir VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation

"$@"

if ! grep -q "Khronos Validation Layer Active" "$dir/log.txt" 2>/dev/null; then
    echo "error: the validation layer ($layer) never reported itself active: nothing was validated" >&2
    exit 1
fi
# Every message but the layer's status line (and its indented continuation) is a finding.
findings=$(grep -v '^ ' "$dir/log.txt" | grep -v 'createinstance-status-message' | grep -c . || true)
if [[ $findings -gt 0 ]]; then
    echo "error: $findings Vulkan validation message(s)${VK_ICD_FILENAMES:+ on $VK_ICD_FILENAMES}:" >&2
    grep -v 'createinstance-status-message' "$dir/log.txt" | head -n 40 >&2
    exit 1
fi
echo "vk_check: no validation messages${VK_ICD_FILENAMES:+ (driver $VK_ICD_FILENAMES)}" >&2
