#!/usr/bin/env bash
# Builds the device kit (DEVELOPERS.md): everything tools/device/run.sh needs on the GPU machine,
# which has no Rust toolchain and no network, in ONE git-ignored folder that the device tool
# carries (its `carry` takes 64 MiB in all, the working tree included; the kit stays under 60).
#
#   tools/device/build.sh [KIT_DIR]      # default device-kit/
#
# Contents: fastshap and the kernel-test binary (release, stripped), the Vulkan loader's .deb
# (the GPU machine may lack libvulkan.so.1; run.sh unpacks it only then), the PyTorch comparison
# scripts, and BUILD.txt (commit, date, sizes).
set -euo pipefail
cd "$(dirname "$0")/../.."
KIT=${1:-device-kit}
LIMIT_MIB=60

die() { echo "build.sh: $*" >&2; exit 1; }
for tool in cargo strip; do command -v $tool >/dev/null || die "needs '$tool' on the PATH"; done

echo "building fastshap and the kernel tests (release)"
cargo build --release --bin fastshap
# The test binary's name carries a hash: ask cargo which file it built.
kernels=$(cargo test --release --test kernels --no-run --message-format=json 2>/dev/null |
  grep -o '"executable":"[^"]*/kernels-[0-9a-f]*"' | tail -1 | sed 's/.*"executable":"//; s/"$//')
[ -n "$kernels" ] && [ -x "$kernels" ] ||
  die "could not find the kernel-test binary in 'cargo test --release --test kernels --no-run' output"

tmp=$(mktemp -d "${KIT%/}.tmp.XXXX")
trap 'rm -rf "$tmp"' EXIT
strip -o "$tmp/fastshap" target/release/fastshap
strip -o "$tmp/kernels" "$kernels"

# The Vulkan loader and the glvnd libraries NVIDIA's ICD needs (gpu_env.sh says why): reuse an
# earlier kit's .debs (no network needed), else ask apt for amd64 ones (the GPU machine's).
DEBS="libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2"
mkdir -p "$tmp/debs"
for p in $DEBS; do
  if ls "$KIT"/debs/${p}_*.deb >/dev/null 2>&1; then
    cp "$KIT"/debs/${p}_*.deb "$tmp/debs/"
  else
    (cd "$tmp/debs" && apt-get -oAPT::Architecture=amd64 download "$p") ||
      die "apt-get download $p failed (no network or no apt lists? try 'apt-get update')"
  fi
done

mkdir -p "$tmp/py"
cp tools/torch_bench_models.py tools/fastshap_torch.py "$tmp/py/"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo "+uncommitted changes" || true)
{
  echo "commit $commit$dirty, built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
  # The GPU machine's C library must be at least this new (KINDS.md does not record its version;
  # run.sh logs it there).
  command -v objdump >/dev/null &&
    echo "needs $(objdump -T "$tmp/fastshap" "$tmp/kernels" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  (cd "$tmp" && find . -type f -printf '%s\t%P\n' | sort -k2)
} >"$tmp/BUILD.txt"

size=$(du -sb "$tmp" | cut -f1)
mib=$(((size + 1048575) / 1048576))
[ "$mib" -le "$LIMIT_MIB" ] ||
  die "the kit would take $mib MiB, over its $LIMIT_MIB MiB limit (the device tool carries 64 MiB in all); nothing written to $KIT"

# Replace the old kit only now that the new one is complete.
rm -rf "$KIT"
mv "$tmp" "$KIT"
trap - EXIT
echo "device kit: $KIT ($mib MiB of $LIMIT_MIB)"
cat "$KIT/BUILD.txt"
