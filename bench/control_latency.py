"""Benchmark: how soon a control shows on screen, how much OSC the show takes, how close Link is.

Place in the data flow: a controller in another process -> OSC (UDP) or MIDI (JACK) -> the show
(stand-in generator of a known cost) -> the first presented frame whose pixels show the change.
Times are `time.perf_counter()` in both processes (the same monotonic clock).

    .venv/bin/python bench/control_latency.py                  # everything, about a minute
    .venv/bin/python bench/control_latency.py --only osc midi  # some parts
    .venv/bin/python bench/control_latency.py --quick

Parts:
- `probe`: `/livegan/probe` -> `/livegan/probe/ack <ms>` (arrival to the next presented frame).
- `osc`, `midi`: a change of `latent/truncation` (the generator reads it, so the picture changes
  only after a generator frame) sent at a known moment -> the first presented frame whose pixels
  differ. The target: at most 1 display frame + 1 generator frame (+ the JACK period for MIDI).
- `flood`: 40 000 OSC messages a second for a few seconds while the show plays: frame intervals
  and late frames against a quiet run, and whether the newest value won.
- `link`: a second Ableton Link peer in another process; the show's beat against the peer's at
  each frame, in ms (modulo the quantum).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import percentiles, write_patch  # noqa: E402

FPS = 60
GEN_MS = 20.0
PATCH = f"""
[model]
preset = "stand-in"
[latent]
walk = "still"
truncation = 0.8
[output]
size = [128, 96]
fps = {FPS}
blend = false       # each generator frame shown as it comes (blending fades it in over one more)
[osc]
port = 0
{{extra}}
"""

SENDER = textwrap.dedent("""
    import random, socket, struct, sys, time, json
    from pythonosc.osc_message_builder import OscMessageBuilder
    port, mode, count = int(sys.argv[1]), sys.argv[2], int(float(sys.argv[3]))
    def msg(address, *args):
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        return b.build().dgram
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    out = []
    if mode == "probe":
        for i in range(count):
            time.sleep(0.11)
            sock.sendto(msg("/livegan/probe", i), ("127.0.0.1", port))
            data = sock.recv(1000)
            out.append(struct.unpack(">f", data[-4:])[0])
    elif mode == "change":
        for i in range(count):
            # The previous change's glide (smoothing 0.3 s) has settled; the random part spreads
            # the sends over the display's and the generator's phases (1.5 s alone is a whole
            # number of display frames: every send would land at the same point of a frame).
            time.sleep(1.5 + random.uniform(0.0, 0.05))
            value = 0.2 if i % 2 == 0 else 1.2
            out.append(time.perf_counter())
            sock.sendto(msg("/livegan/latent/truncation", value), ("127.0.0.1", port))
    elif mode == "flood":
        seconds = count
        rate = float(sys.argv[4])
        batch = 40
        datagrams = [msg("/livegan/output/fade", (i % 100) / 100.0) for i in range(100)]
        sent, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for i in range(batch):
                sock.sendto(datagrams[(sent + i) % 100], ("127.0.0.1", port))
            sent += batch
            ahead = sent / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)
        sock.sendto(msg("/livegan/output/fade", 0.625), ("127.0.0.1", port))
        out = [sent, time.perf_counter() - start]
    print(json.dumps(out), flush=True)
""")

MIDI_SENDER = textwrap.dedent("""
    import random, sys, time, json, mido
    mido.set_backend("mido.backends.rtmidi/UNIX_JACK")
    out = mido.open_output("benchCtl", virtual=True, client_name="bench")
    print("ready", flush=True)
    sys.stdin.readline()
    times = []
    for i in range(int(sys.argv[1])):
        time.sleep(1.5 + random.uniform(0.0, 0.05))   # spread over the frames' phases
        times.append(time.perf_counter())
        out.send(mido.Message("control_change", control=7, value=10 if i % 2 == 0 else 120))
    print(json.dumps(times), flush=True)
    time.sleep(0.5)
""")


class Watcher:
    """Records (presented_at, mean absolute change from the previous frame) for each frame."""

    def __init__(self, show) -> None:
        self.frames: list[tuple[float, float]] = []
        self._previous = None
        sinks = show.sinks
        original = sinks.send

        def send(framebuffer, index, t):
            original(framebuffer, index, t)
            pixels = np.frombuffer(framebuffer.read(components=3), dtype=np.uint8)
            change = 0.0 if self._previous is None else \
                float(np.abs(pixels.astype(np.int16) - self._previous).mean())
            self._previous = pixels.astype(np.int16)
            self.frames.append((time.perf_counter(), change))

        sinks.send = send

    def first_change_after(self, moment: float) -> float | None:
        for at, change in self.frames:
            if at > moment and change > 0.3:
                return at
        return None


def start_show(extra: str = "", gen_ms: float = GEN_MS):
    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show
    from liveGAN.standin import stand_in_bundle

    path = write_patch(PATCH.format(extra=extra))
    show = Show(path, RunOptions(headless=True, watch=False), print_fn=lambda m: None,
                bundle=stand_in_bundle(128, cost_ms=gen_ms))
    watcher = Watcher(show)
    thread = threading.Thread(target=show.run, daemon=True)
    thread.start()
    while getattr(show, "clock", None) is None or show.clock.frame < 30:
        time.sleep(0.05)
    return show, thread, watcher


def stop_show(show, thread) -> None:
    show.stop()
    thread.join(30)


def run_sender(port: int, mode: str, *args) -> list:
    out = subprocess.run([sys.executable, "-c", SENDER, str(port), mode, *map(str, args)],
                         capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def describe(name: str, samples_ms: list[float], extra: str = "") -> str:
    stats = percentiles([s / 1000.0 for s in samples_ms])
    return (f"| {name} | {len(samples_ms)} | {stats['p50']:.1f} | {stats['p10']:.1f} | "
            f"{stats['p90']:.1f} | {stats['max']:.1f} | {extra} |")


def part_probe(count: int) -> str:
    show, thread, _ = start_show()
    try:
        acks = run_sender(show.source("OscSource").port, "probe", count)
    finally:
        stop_show(show, thread)
    return describe("probe: arrival -> next presented frame", acks,
                    f"display frame {1000 / FPS:.1f} ms")


def part_osc(count: int) -> str:
    show, thread, watcher = start_show()
    try:
        sent = run_sender(show.source("OscSource").port, "change", count)
        time.sleep(0.3)
    finally:
        stop_show(show, thread)
    gen = 1000.0 * statistics.median(show.frames.gen_times[-200:])
    lat = [1000.0 * (watcher.first_change_after(t) - t) for t in sent
           if watcher.first_change_after(t) is not None]
    within = sum(l <= 1000 / FPS + gen for l in lat)
    return describe("OSC value -> first frame showing it", lat,
                    f"bound 1 display + 1 generator frame = {1000 / FPS + gen:.1f} ms; "
                    f"{within}/{len(lat)} within; {show.frames.frames_superseded} frames "
                    "abandoned for newer controls")


def part_midi(count: int) -> str:
    import shutil

    if shutil.which("jack_lsp") is None or subprocess.run(
            ["jack_lsp"], capture_output=True).returncode != 0:
        return "| MIDI | - | - | - | - | - | no JACK server running (jackd -d dummy) |"
    sender = subprocess.Popen([sys.executable, "-c", MIDI_SENDER, str(count)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert sender.stdout.readline().strip() == "ready"
    show, thread, watcher = start_show(extra='[[inputs]]\nkind = "midi"\nport = "benchCtl"\n'
                                       'api = "jack"\noutput = false\n[[mappings]]\n'
                                       'source = "/midi/1/cc/7"\ntarget = "latent/truncation"\n')
    try:
        time.sleep(1.0)
        sender.stdin.write("go\n")
        sender.stdin.flush()
        sent = json.loads(sender.stdout.readline())
        time.sleep(0.3)
    finally:
        stop_show(show, thread)
        sender.wait(10)
    gen = 1000.0 * statistics.median(show.frames.gen_times[-200:])
    lat = [1000.0 * (watcher.first_change_after(t) - t) for t in sent
           if watcher.first_change_after(t) is not None]
    period = 512 / 48.0
    within = sum(l <= 1000 / FPS + gen + period for l in lat)
    return describe("MIDI CC (JACK) -> first frame showing it", lat,
                    f"bound 1 display + 1 generator frame + JACK period {period:.1f} ms = "
                    f"{1000 / FPS + gen + period:.1f} ms; {within}/{len(lat)} within")


def part_flood(seconds: float, rate: float) -> list[str]:
    rows = []
    for label, flood in (("quiet", False), (f"{rate:.0f} msg/s", True)):
        show, thread, _ = start_show()
        try:
            start_frame, start = show.clock.frame, len(show.clock.intervals)
            late = show.clock.late_frames
            made, dropped = show.frames.frames_made, show.frames.frames_superseded
            began = time.perf_counter()
            if flood:
                sent, took = run_sender(show.source("OscSource").port, "flood", seconds, rate)
                t_end = time.perf_counter()
                newest = None
                while time.perf_counter() - t_end < 2.0:
                    if show.values.target["output/fade"] == 0.625:
                        newest = time.perf_counter() - t_end
                        break
                    time.sleep(0.001)
            else:
                time.sleep(seconds)
            intervals = show.clock.intervals[start:]
            late = show.clock.late_frames - late
            spent = time.perf_counter() - began
            made = show.frames.frames_made - made
            dropped = show.frames.frames_superseded - dropped
        finally:
            stop_show(show, thread)
        stats = percentiles(intervals)
        extra = (f"late frames {late} of {len(intervals)}; generator {made / spent:.1f} "
                 f"frames/s, {dropped} abandoned for newer controls")
        if flood:
            extra += (f"; sent {sent} in {took:.2f} s = {sent / took:.0f} msg/s; newest value "
                      + (f"applied {1000 * newest:.1f} ms after the last send" if newest is not None
                         else "NOT applied"))
        rows.append(f"| frame interval, {label} | {len(intervals)} | {stats['p50']:.1f} | "
                    f"{stats['p10']:.1f} | {stats['p90']:.1f} | {stats['max']:.1f} | {extra} |")
    return rows


def part_link(seconds: float) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_tempo import Peer, phase_errors_ms

    peer = Peer()
    try:
        show, thread, _ = start_show(extra='[clock]\nsource = "link"\n[[inputs]]\n'
                                           'kind = "link"\n')
        try:
            deadline = time.monotonic() + 30
            while show.values["link/peers"] < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            peer.ask("tempo 133")
            while abs(show.values["clock/bpm"] - 133.0) > 1e-6 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
            errors = phase_errors_ms(show, peer, seconds)
            bpm = show.values["clock/bpm"]
        finally:
            stop_show(show, thread)
    finally:
        peer.close()
    return describe("Link beat phase vs a second peer (ms)", errors,
                    f"tempo {bpm:.2f} (peer 133); {sum(e < 1.0 for e in errors)}/{len(errors)} "
                    "within 1 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=["probe", "osc", "midi", "flood", "link"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate", type=float, default=40000.0)
    parser.add_argument("--count", type=int, default=None,
                        help="changes per latency part (default 30; 10 with --quick)")
    args = parser.parse_args()
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    import torch

    torch.set_num_threads(1)
    count = args.count or (10 if args.quick else 30)
    print(f"load average before: {os.getloadavg()}; display {FPS} fps, stand-in generator "
          f"{GEN_MS:g} ms")
    print("| measure | n | median | p10 | p90 | max | notes |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for part in args.only:
        if part == "probe":
            print(part_probe(count), flush=True)
        elif part == "osc":
            print(part_osc(count), flush=True)
        elif part == "midi":
            print(part_midi(count), flush=True)
        elif part == "flood":
            for row in part_flood(3.0 if args.quick else 6.0, args.rate):
                print(row, flush=True)
        elif part == "link":
            print(part_link(3.0 if args.quick else 10.0), flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
