"""`livegan listen`: a song's tempo, beats and onsets as JSON; live meters of what an input
hears (a drum loop played by another process into a PulseAudio null sink); one clear message
for a bad file or a missing device.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from audio_signals import drum_loop, f_measure, write_audio

LIVEGAN = [sys.executable, "-m", "liveGAN.cli"]


def listen(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(LIVEGAN + ["listen", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


def test_a_songs_tempo_beats_and_onsets_as_json(tmp_path):
    loop = drum_loop(128.0, 8.0, 44100, "funk")
    song = tmp_path / "loop.mp3"
    write_audio(song, loop.samples, 44100, "libmp3lame")
    run = listen(str(song), "--json")
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert isinstance(found["bpm"], (int, float)) and abs(found["bpm"] - 128.0) <= 1.0
    assert found["duration"] == pytest.approx(8.0, abs=0.06)    # MP3 pads a little
    # an MP3 starts a little late (the encoder's delay): line the first onsets up
    lead = found["onsets"][0] - loop.onsets[0]
    assert abs(lead) < 0.05
    assert f_measure([t - lead for t in found["onsets"]], loop.onsets) >= 0.95
    assert len(found["beats"]) >= len(loop.beats) - 1
    # without --json: the same, for people
    text = listen(str(song)).stdout
    assert f"{found['bpm']:.2f} BPM" in text and f"{len(found['onsets'])} onsets" in text


@pytest.mark.parametrize("content", [b"", b"not a song at all " * 100])
def test_a_bad_file_is_one_line_and_exit_1(tmp_path, content):
    path = tmp_path / "song.wav"
    path.write_bytes(content)
    run = listen(str(path), "--json")
    assert run.returncode == 1 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and str(path) in run.stderr
    assert "Traceback" not in run.stderr


def test_live_meters_of_a_drum_loop(pulse_server, tmp_path):
    loop = drum_loop(100.0, 6.0, 48000, "rock")
    song = tmp_path / "loop.wav"
    write_audio(song, loop.samples, 48000, "pcm_s16le")
    meters = subprocess.Popen(LIVEGAN + ["listen", "--device", "pulse", "--seconds", "14"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ))
    # Play once the input delivers (PulseAudio takes a moment with a new recording stream).
    lines = []
    for line in meters.stdout:
        lines.append(line)
        blocks = re.search(r"blocks (\d+)", line)
        if blocks and int(blocks.group(1)) > 50:
            break
    player = pulse_server.play(song)
    assert player.wait(60) == 0
    out, err = meters.communicate(timeout=60)
    lines += out.splitlines()
    assert meters.returncode == 0, err
    assert any("listening to 'pulse'" in line for line in lines), lines
    levels = [float(m.group(1)) for line in lines
              for m in [re.search(r"level ([0-9.e-]+) ", line)] if m]
    assert max(levels) > 0.2 and levels[0] == 0.0
    summary = re.search(r"heard (\d+) blocks: (\d+) onsets, \d+ beats, tempo ([0-9.]+) BPM",
                        lines[-1])
    assert summary, lines[-1]
    assert abs(int(summary.group(2)) - len(loop.onsets)) <= 2, lines[-1]
    assert abs(float(summary.group(3)) - 100.0) <= 1.0, lines[-1]


def test_live_with_a_missing_device_says_which_there_are(tmp_path):
    started = time.monotonic()
    run = listen("--device", "no such card 9", "--seconds", "2")
    assert run.returncode == 0, run.stderr
    said = [line for line in run.stdout.splitlines() if "no input device" in line]
    assert len(said) == 1 and "inputs:" in said[0] and "livegan devices" in said[0]
    assert "heard 0 blocks" in run.stdout.splitlines()[-1]
    assert time.monotonic() - started < 60
