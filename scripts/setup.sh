#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine (idempotent: quick when already done).
# System packages: Mesa EGL (OpenGL without a display), PortAudio + PulseAudio (audio input),
# JACK (virtual MIDI ports), Xvfb (a virtual display), Pure Data (the controller patch's test),
# Xorg's dummy driver and xrandr (two virtual displays for the projector tests), iproute2 (a
# private loopback for the NDI test). Then a virtual environment in .venv with the CPU build of torch pinned first, then liveGAN.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libportaudio2 pulseaudio
  pulseaudio-utils libasound2-plugins jackd2 xvfb xauth puredata-core
  xserver-xorg-core xserver-xorg-video-dummy x11-xserver-utils iproute2"
missing=""
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing system packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# torch first and pinned: a plain `torch` requirement would pull a multi-GB CUDA build here.
# On a machine with a GPU, install the CUDA build of your choice before running this script.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q "torch==${TORCH_VERSION:-2.13.0}"
.venv/bin/pip install -q -e '.[dev]'
echo "liveGAN is set up: .venv/bin/livegan --help"
