"""Benchmark: how soon a sound shows on screen. A click is played into a PulseAudio null sink,
heard by the show's audio input (PortAudio), and flashes the picture (the strobe effect's
`onset_flash` reads `u_onset`); the first presented frame that is bright is the one that shows it.

Place in the data flow: player -> PulseAudio -> PortAudio callback (PcmRing) -> analysis thread
-> `/audio/...` posts -> the show's update -> view (shader chain) -> sinks (window) -> presented.

    .venv/bin/python bench/audio_latency.py              # headless and with a window, 20 clicks
    .venv/bin/python bench/audio_latency.py --clicks 10 --only window

Times are `time.perf_counter()` in this one process. Per click:
- `dac`: when the player's PortAudio stream says the click leaves for the sink;
- `captured`: when the input's PortAudio stream says the click's first sample came in (the ADC
  time of the ring's block stamp);
- `arrived`: when the input's callback handed over the block holding the click's first sample;
- `posted`: when the analysis posted `/audio/onset 1`;
- `shown`: when the first frame with the flash went to the sinks (a window: after its swap).
The engine's part is `arrived -> shown`; its target is at most 1 block (the click may fall at
the start of a block, which is complete one block later) + 1 display frame, measured from the
click's capture: `captured -> shown` <= block + frame, plus PortAudio's own input buffering,
which the table shows apart (`captured -> arrived`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from audio_signals import ClickPlayer  # noqa: E402
from common import percentiles, write_patch  # noqa: E402

RATE = 48000
FPS = 60
BLOCK = 512
PATCH = f"""
[model]
preset = "stand-in"
[latent]
walk = "still"
avoid_dark = 0
[output]
size = [160, 90]
fps = {FPS}
blend = false
[osc]
enabled = false
[[inputs]]
kind = "audio"
device = "pulse"
block = {BLOCK}
[[shaders]]
effect = "strobe"
params = {{ amount = 0.0, onset_flash = 1.0 }}
[params]
"output/blackout" = 0
"""


class Timeline:
    """What happened when: block arrivals (ring writes), onset posts, presented frames."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int, int]] = []   # (time, first sample, samples)
        self.posts: list[float] = []
        self.frames: list[tuple[float, float]] = []         # (time, mean brightness 0..255)

    def watch_ring(self) -> None:
        from liveGAN.pcm import PcmRing

        write, timeline = PcmRing.write, self

        def timed(ring, block, captured_at):
            start = ring.written
            write(ring, block, captured_at)
            timeline.arrivals.append((time.perf_counter(), start, len(block)))

        PcmRing.write = timed

    def watch_posts(self) -> None:
        from liveGAN.show.inbox import Inbox

        post, timeline = Inbox.post, self

        def timed(inbox, address, *values):
            if address == "/audio/onset" and values and values[0] >= 0.5:
                timeline.posts.append(time.perf_counter())
            return post(inbox, address, *values)

        Inbox.post = timed

    def watch_frames(self, show) -> None:
        sinks, timeline = show.sinks, self
        send = sinks.send

        def timed(framebuffer, index, t):
            send(framebuffer, index, t)
            shown = time.perf_counter()
            pixels = np.frombuffer(framebuffer.read(components=3), np.uint8)
            timeline.frames.append((shown, float(pixels.mean())))

        sinks.send = timed

    def first_after(self, what: list, moment: float):
        return next((item for item in what if (item[0] if isinstance(item, tuple) else item)
                     > moment), None)


def measure(window: bool, clicks: int) -> dict[str, list[float]]:
    import sounddevice as sd

    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show
    from liveGAN.standin import stand_in_bundle

    timeline = Timeline()
    timeline.watch_ring()
    timeline.watch_posts()
    show = Show(write_patch(PATCH), RunOptions(headless=not window, watch=False, no_osc=True),
                print_fn=lambda m: None, bundle=stand_in_bundle(64))
    timeline.watch_frames(show)
    thread = threading.Thread(target=show.run, daemon=True)
    thread.start()
    results: dict[str, list[float]] = {k: [] for k in (
        "dac -> shown", "captured -> shown", "captured -> arrived", "arrived -> posted",
        "posted -> shown", "arrived -> shown")}
    # a 2 ms click; high latency: the player must not underrun
    player = ClickPlayer(sd, RATE, pulse=96, level=0.8, length=RATE // 50, latency="high")
    misses: list[str] = []
    try:
        while getattr(show, "clock", None) is None or show.source("AudioSource") is None \
                or show.source("AudioSource").blocks < 200:
            time.sleep(0.05)
        source = show.source("AudioSource")
        with player.stream:
            time.sleep(1.0)
            for _ in range(clicks):
                time.sleep(0.7)   # the last flash (250 ms decay) has gone
                start_blocks = len(timeline.arrivals)
                dac = player.play()
                time.sleep(0.35)
                ring = source.ring
                # The click's first sample in the ring: the first loud one after the DAC time.
                first = next((a for a in timeline.arrivals[start_blocks:]), None)
                read = ring.read(first[1]) if first is not None else None
                loud = np.flatnonzero(np.abs(read.samples).max(axis=1) > 0.2) \
                    if read is not None else []
                if len(loud) == 0:
                    misses.append("the click was not heard")
                    continue
                index = read.start + int(loud[0])
                captured = ring.time_of(index)
                arrived = next(t for t, start, n in timeline.arrivals if start + n > index)
                posted = timeline.first_after(timeline.posts, arrived - 1e-6)
                # The picture is still (walk "still"): any brightening is the flash, whose
                # strength is the onset's against the recent ones.
                base = np.median([b for t, b in timeline.frames if arrived - 0.3 < t < arrived])
                shown = next((t for t, b in timeline.frames if t > arrived and b > base + 8),
                             None)
                if posted is None or shown is None:
                    misses.append("no onset" if posted is None else "no flash")
                    continue
                results["dac -> shown"].append(shown - dac)
                results["captured -> shown"].append(shown - captured)
                results["captured -> arrived"].append(arrived - captured)
                results["arrived -> posted"].append(posted - arrived)
                results["posted -> shown"].append(shown - posted)
                results["arrived -> shown"].append(shown - arrived)
        latency = source.input_latency
        results["input latency (PortAudio, s)"] = [latency] if latency is not None else []
        results["misses"] = misses
    finally:
        show.stop()
        thread.join(30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=["headless", "window"])
    args = parser.parse_args()
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    import conftest  # the tests' PulseServer: a null sink of our own

    server = conftest.PulseServer(Path(tempfile.mkdtemp(prefix="livegan-pulse-")))
    os.environ["PULSE_SERVER"] = server.server
    import torch

    torch.set_num_threads(1)
    block_ms, frame_ms = 1000 * BLOCK / RATE, 1000 / FPS
    try:
        for mode in args.only:
            print(f"\n## {mode}: {args.clicks} clicks, display {FPS} fps, blocks of {BLOCK} "
                  f"at {RATE} Hz ({block_ms:.1f} ms); load average before {os.getloadavg()}")
            results = measure(mode == "window", args.clicks)
            latency = results.pop("input latency (PortAudio, s)")
            misses = results.pop("misses")
            print("| measure | n | median ms | p10 | p90 | max | notes |")
            print("|---|---:|---:|---:|---:|---:|---|")
            for name, samples in results.items():
                if not samples:
                    print(f"| {name} | 0 | | | | | nothing measured |")
                    continue
                stats = percentiles(samples)
                note = ""
                if name == "arrived -> shown":
                    bound = block_ms + frame_ms
                    within = sum(1000 * s <= frame_ms + 5 for s in samples)
                    note = (f"engine: {within}/{len(samples)} within 1 frame + 5 ms")
                if name == "captured -> shown":
                    bound = block_ms + frame_ms
                    within = sum(1000 * s <= bound for s in samples)
                    note = f"target 1 block + 1 frame = {bound:.1f} ms: {within}/{len(samples)}"
                if name == "captured -> arrived" and latency:
                    note = f"PortAudio reports {1000 * latency[0]:.1f} ms input latency"
                print(f"| {name} | {len(samples)} | {stats['p50']:.1f} | {stats['p10']:.1f} | "
                      f"{stats['p90']:.1f} | {stats['max']:.1f} | {note} |", flush=True)
            if misses:
                counted = {m: misses.count(m) for m in sorted(set(misses))}
                print(f"not measured: {counted}")
            print(f"load average after: {os.getloadavg()}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
