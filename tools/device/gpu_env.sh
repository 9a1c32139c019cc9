# Sourced by the device scripts (run.sh, p256.sh, p16.sh) on the GPU machine: makes NVIDIA's Vulkan driver
# reachable. Needs KIT (the kit's folder), DRY (1: on this machine, change nothing), a `log`
# function; sets VK_DRIVER_FILES and XDG_RUNTIME_DIR.
#
# Seen on the H200 machine (2026-12-04): it has no Vulkan loader, and the kit's libvulkan1
# unpacked into a private folder found no adapter: NVIDIA's ICD (libGLX_nvidia.so.0) also needs
# the glvnd libraries. The device notes' recipe works: the loader and glvnd packages unpacked
# into / and `ldconfig` (the kit's debs/, from build.sh), then VK_DRIVER_FILES at NVIDIA's ICD.
# On the GPU machine only: unpacking into / would change this machine.
if [ "${DRY:-0}" != 1 ] &&
  ! { ldconfig -p | grep -q 'libvulkan.so.1 ' && ldconfig -p | grep -q 'libGLdispatch.so.0 '; }; then
  if ls "$KIT"/debs/*.deb >/dev/null 2>&1; then
    for d in "$KIT"/debs/*.deb; do dpkg -x "$d" /; done
    ldconfig
    log "unpacked into /: $(ls "$KIT"/debs | tr '\n' ' ')"
  else
    log "no Vulkan loader or glvnd here and no .deb in $KIT/debs: Vulkan will not start"
  fi
fi
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$NV_ICD" ]; then
  export VK_DRIVER_FILES=$NV_ICD
  log "VK_DRIVER_FILES=$NV_ICD"
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
