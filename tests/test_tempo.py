"""Tempo with real parts: Ableton Link with a second aalink peer in another process; the show's
clock takes the session's tempo and beat phase, and a tempo set in the show reaches the peer."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import wait_for
from test_osc_answers import Client, build

pytest.importorskip("aalink")

# The other peer: joins Link at 133 BPM, then answers line by line on stdin.
PEER = textwrap.dedent("""
    import asyncio, json, sys, time
    from aalink import Link
    from liveGAN.sources.link import read_beat

    async def main():
        link = Link(133.0)
        link.quantum = 4
        link.enabled = True
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "tempo":
                link.tempo = float(words[1])
                print(json.dumps(link.tempo), flush=True)
            elif words[0] == "state":
                print(json.dumps([link.tempo, link.num_peers]), flush=True)
            elif words[0] == "sample":            # sample SECONDS: (perf_counter, beat) pairs
                samples, end = [], time.perf_counter() + float(words[1])
                while time.perf_counter() < end:
                    beat, at = read_beat(link)
                    samples.append((at, beat))
                    await asyncio.sleep(0.005)
                print(json.dumps(samples), flush=True)
        link.enabled = False

    asyncio.run(main())
""")


class Peer:
    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", PEER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def ask(self, line: str):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(10)


PATCH = """
[model]
preset = "stand-in"
[output]
size = [64, 48]
fps = 30
[osc]
port = 0
[clock]
source = "link"
[[inputs]]
kind = "link"
quantum = 4
"""


def interpolate(samples: list, at: float) -> float | None:
    for (t0, b0), (t1, b1) in zip(samples, samples[1:]):
        if t0 <= at <= t1:
            return b0 + (b1 - b0) * (at - t0) / (t1 - t0)
    return None


def phase_errors_ms(show, peer, seconds: float = 2.0) -> list[float]:
    """Our beat at each frame against the peer's at the same moment, modulo the quantum, in
    milliseconds."""
    ours = []
    peer.process.stdin.write(f"sample {seconds}\n")
    peer.process.stdin.flush()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        snap = show.link.snapshot()
        if not ours or ours[-1][0] != snap.beat_at:
            ours.append((snap.beat_at, snap.beat, snap.bpm))
        time.sleep(0.003)
    samples = json.loads(peer.process.stdout.readline())
    errors = []
    for at, beat, bpm in ours:
        theirs = interpolate(samples, at)
        if theirs is None:
            continue
        diff = (beat - theirs + 2.0) % 4.0 - 2.0
        errors.append(abs(diff) * 60000.0 / bpm)
    return errors


def test_link_tempo_and_phase_follow_a_second_peer(playing):
    peer = Peer()
    try:
        with playing(PATCH) as show:
            assert wait_for(lambda: show.values["link/peers"] == 1, 30)
            assert wait_for(lambda: peer.ask("state")[1] == 1)
            # Which of two meeting sessions keeps its tempo is Link's choice; once they are
            # one, a tempo set by the peer is everybody's.
            peer.ask("tempo 133")
            assert wait_for(lambda: show.values["clock/bpm"] == pytest.approx(133.0), 30)
            errors = sorted(phase_errors_ms(show, peer))
            assert len(errors) > 20
            assert errors[len(errors) // 2] < 1.0          # the target: within 1 ms
            # The peer changes tempo: the show follows.
            peer.ask("tempo 97.5")
            assert wait_for(lambda: show.values["clock/bpm"] == pytest.approx(97.5), 20)
            # A tempo set in the show goes to the session: the peer follows.
            Client(show.source("OscSource").port).send(build("/livegan/clock/bpm", 150.0))
            assert wait_for(lambda: peer.ask("state")[0] == pytest.approx(150.0), 20)
            assert wait_for(lambda: show.values["clock/bpm"] == pytest.approx(150.0))
            errors = sorted(phase_errors_ms(show, peer, 1.5))
            assert errors[len(errors) // 2] < 1.0
        assert any("following the link tempo" in l for l in show.lines)
    finally:
        peer.close()
