#!/usr/bin/env bash
# Runs the test suite with the real parts it needs started: a PulseAudio null sink (audio input)
# and a dummy JACK server (MIDI virtual ports), both in user space, stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export SDL_AUDIODRIVER=dummy
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
cleanup() { [ -n "${JACK_PID:-}" ] && kill "$JACK_PID" 2>/dev/null; pulseaudio --kill 2>/dev/null || true; }
trap cleanup EXIT
if command -v pulseaudio >/dev/null; then
  pulseaudio --daemonize=yes --exit-idle-time=-1 -n \
    --load="module-null-sink sink_name=test_sink" --load=module-native-protocol-unix \
    >/dev/null 2>&1 || true
  pactl set-default-sink test_sink 2>/dev/null || true
  pactl set-default-source test_sink.monitor 2>/dev/null || true
fi
if command -v jackd >/dev/null; then
  jackd --no-realtime -d dummy -r 48000 -p 512 >/dev/null 2>&1 &
  JACK_PID=$!
fi
.venv/bin/python -m pytest "$@"
