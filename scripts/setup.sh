#!/usr/bin/env bash
# Set up everything the app and its tests need, idempotently:
#   1. Debian packages (Qt runtime libraries, libfluidsynth, PulseAudio client,
#      Xvfb for real-window tests): installed when we are root or have sudo,
#      otherwise the missing ones are named and we stop.
#   2. A virtual environment in .venv with torch and the project.
#      No NVIDIA GPU: torch==2.13.0, the CPU build. With one: PyTorch's CUDA build
#      (override with TORCH_SPEC / TORCH_INDEX_URL, see the README).
# Usage: scripts/setup.sh [--test]   (--test adds pytest and friends)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_packages=(libfluidsynth3 libpulse0 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1
              libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0
              libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libglib2.0-0 xvfb xauth)
# Test-only: a private PulseAudio null sink and a JACK server give the playback and
# MIDI-out tests a real audio output and real MIDI ports on machines without hardware;
# xdotool and ImageMagick's `import` drive and photograph the app in a real X window.
[ $want_test = 1 ] && apt_packages+=(pulseaudio jackd2 xdotool imagemagick)
missing=()
if command -v dpkg >/dev/null 2>&1; then
  for pkg in "${apt_packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; else sudo="none"; fi
  if [ "$sudo" = none ]; then
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "setup: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null || true
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
stamp=.venv/.composer-setup
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-$want_test"
if [ -f "$stamp" ] && { grep -qx -- "$want" "$stamp" || grep -qx -- "${want%-0}-1" "$stamp"; }; then
  exit 0   # already set up for this pyproject.toml
fi
$VPY -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
if ! $VPY -c "import torch" >/dev/null 2>&1; then
  if [ -n "${TORCH_SPEC:-}" ]; then
    $VPY -m pip install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH_SPEC"
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    $VPY -m pip install -q "torch>=2.10"      # PyPI's Linux wheel is the CUDA build
  else
    $VPY -m pip install -q "torch==2.13.0"    # CPU build (lies on disk on our machines)
  fi
fi
extra=""
[ $want_test = 1 ] && extra="[test]"
$VPY -m pip install -q --disable-pip-version-check -e ".${extra}"
echo "$want" > "$stamp"
