#!/usr/bin/env bash
# Installs everything UmeTrack Studio needs on a fresh Debian/Ubuntu machine, as root.
#   bash scripts/install.sh          # the app and the library
#   bash scripts/install.sh --test   # plus the test tools (pytest, pytest-qt, pytest-xvfb)
# Safe to re-run: apt and pip skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[[ "${1:-}" == "--test" ]] && extras="[test]"

# Libraries Qt 6 needs to open windows (xcb) and GL contexts, plus a virtual display for headless runs.
apt_packages=(
  libgl1 libegl1 libfontconfig1 libglib2.0-0 libdbus-1-3 libxkbcommon-x11-0 libx11-xcb1
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 xvfb xauth
  # The synthetic renderer: Mesa's EGL and its software (llvmpipe) OpenGL driver, no display needed.
  libegl-mesa0 libgl1-mesa-dri
)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! python3 -m pip --version >/dev/null 2>&1; then missing+=(python3-pip); fi
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Root installs into the system interpreter (Debian marks it externally managed; we accept that here).
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first and pinned: 2.13.0 is a local CPU build on our machines, while an unpinned torch
# (or a range resolved by another package) pulls a CUDA build of several GB.
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e ".${extras}"
