#!/usr/bin/env bash
# Installs the system packages attnc needs on Debian 12 (run as root; CI and a fresh machine):
# a Vulkan driver for WebGPU through Dawn (the `webgpu` npm package). Debian 12's own Mesa
# (22.3) is too old for Dawn, so Mesa's lavapipe comes from the bookworm-backports suite,
# using the same mirror the machine's apt sources already name.
set -euo pipefail

have_vulkan_driver() {
  ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null | grep -q . || return 1
  # lavapipe from Debian 12 itself (Mesa 22.x) is rejected by Dawn; require Mesa >= 25 if it is lavapipe.
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -z "$v" ] && return 0                      # a vendor driver (not Mesa) is present
  dpkg --compare-versions "$v" ge 25 
}

if have_vulkan_driver && ldconfig -p | grep -q libvulkan.so.1; then
  echo "setup-system: a Vulkan driver is present"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "setup-system: no usable Vulkan driver; run this script as root to install Mesa lavapipe >= 25" >&2
  exit 1
fi

# The mirror URI: the first 'deb' URI of the main Debian suite in the existing sources.
uri=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  uri=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
  echo "setup-system: could not find a Debian mirror in /etc/apt/sources.list{,.d}" >&2
  exit 1
fi

list=/etc/apt/sources.list.d/attnc-backports.list
echo "deb $uri bookworm-backports main" > "$list"
echo "setup-system: added bookworm-backports from the machine's mirror"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
echo "setup-system: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
