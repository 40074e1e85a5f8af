#!/usr/bin/env bash
# Runs the test suite with the real parts it needs started: a PulseAudio null sink (audio input)
# and a dummy JACK server (MIDI virtual ports), both in user space. They run in a runtime folder
# of their own, so a sound server the user already has is neither used nor stopped; on exit only
# what this script started is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
export SDL_AUDIODRIVER=dummy
export JACK_NO_START_SERVER=1   # a client that finds no server fails; none is started behind our back
RUNTIME_DIR="$(mktemp -d)"
chmod 700 "$RUNTIME_DIR"
export XDG_RUNTIME_DIR="$RUNTIME_DIR"
cleanup() {
  # Never fail here: the suite's own exit status is the script's.
  # jackd can hang in its own shutdown after SIGTERM (seen: waiting on a futex for minutes);
  # left running, it holds the server name and the next run's server cannot start.
  if [ -n "${JACK_PID:-}" ]; then
    kill "$JACK_PID" 2>/dev/null || true
    for _ in $(seq 25); do kill -0 "$JACK_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$JACK_PID" 2>/dev/null || true
  fi
  # --kill talks to the server whose pid file is in $XDG_RUNTIME_DIR: ours, not the user's.
  if [ -n "${PULSE_STARTED:-}" ]; then pulseaudio --kill 2>/dev/null || true; fi
  rm -rf "$RUNTIME_DIR" || true
}
trap cleanup EXIT
if command -v pulseaudio >/dev/null; then
  if pulseaudio --daemonize=yes --exit-idle-time=-1 -n \
      --load="module-null-sink sink_name=test_sink" --load=module-native-protocol-unix \
      >/dev/null 2>&1; then
    PULSE_STARTED=1
  fi
  pactl set-default-sink test_sink 2>/dev/null || true
  pactl set-default-source test_sink.monitor 2>/dev/null || true
fi
if command -v jackd >/dev/null; then
  jackd --no-realtime -d dummy -r 48000 -p 512 >/dev/null 2>&1 &
  JACK_PID=$!
  disown "$JACK_PID"   # no "Killed" notice when the cleanup below has to force it
  # Wait until it answers: a test that finds no server would start a second one beside it.
  for _ in $(seq 100); do
    jack_lsp >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
# A suite that hangs (once: a process that could not exit, for the CI's whole time) is stopped
# after LIVEGAN_TEST_TIMEOUT (default 45 minutes, about five times a whole run) with SIGABRT, so
# Python's fault handler prints where every thread was; the status is then 124.
export PYTHONFAULTHANDLER=1
timeout --signal=ABRT --kill-after=60 "${LIVEGAN_TEST_TIMEOUT:-45m}" .venv/bin/python -m pytest "$@"
