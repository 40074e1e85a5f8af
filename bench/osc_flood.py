"""Benchmark: does a flood of OSC garbage slow the frame loop, and how many valid messages per
second does the OSC server take without loss?

Place in the data flow: exercises `liveGAN.sources.osc.OscServer` (signals -> Inbox) beside a
stand-in frame loop (fixed numpy work plus some plain Python, draining the inbox each frame), the
way the engine runs it. Senders are separate processes, as a controller on the network would be.

    .venv/bin/python bench/osc_flood.py                 # everything, about a minute
    .venv/bin/python bench/osc_flood.py --quick         # shorter runs

Prints the frame interval median, p90, p99 and max (ms) for: no flood; a garbage flood; a
garbage flood with the receive thread's rest after a busy stretch turned off (to show what it
buys). Then, for valid messages sent at rising rates, how many were posted: by the server alone
(a big inbox), and beside the frame loop (the engine's inbox: 4096 deep, drained 512 a frame, so
at most 512 x 60 = 30 720 messages/s get through it).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import textwrap
import time

import numpy as np

from liveGAN.params import Inbox, RateLimitedLog
from liveGAN.signals import osc
from liveGAN.sources.osc import OscServer, Route

ROUTES = {f"/livegan/bench/p{i}": Route("float") for i in range(40)}
ROUTES["/touchosc/fader1"] = Route("any")

# Runs in another process: sends a mix of garbage as fast as it can for `seconds`.
GARBAGE_SENDER = textwrap.dedent("""
    import random, socket, struct, sys, time
    from pythonosc.osc_message_builder import OscMessageBuilder
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    rng = random.Random(7)
    def msg(address, *args):
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        return b.build().dgram
    valid = msg("/livegan/bench/p1", 0.5)
    pool = []
    for i in range(2000):
        k = i % 6
        if k == 0:    # random bytes
            pool.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
        elif k == 1:  # truncated valid messages
            pool.append(valid[:rng.randrange(1, len(valid))])
        elif k == 2:  # a bad type tag
            pool.append(b"/livegan/bench/p1\\x00\\x00\\x00,q\\x00\\x00" + bytes(4))
        elif k == 3:  # valid-looking unknown addresses
            pool.append(msg(f"/livegan/nothing/n{i}", 1.0))
        elif k == 4:  # a string where a number belongs
            pool.append(msg("/livegan/bench/p2", "abc"))
        else:         # a bundle whose element size is wrong
            pool.append(b"#bundle\\x00" + bytes(8) + struct.pack(">i", 400) + valid)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end, sent = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        for d in pool[:500]:
            sock.sendto(d, ("127.0.0.1", port))
        sent += 500
        pool.append(pool.pop(0))
    print(sent)
""")

# Runs in another process: sends `count` valid messages paced at `rate` per second.
VALID_SENDER = textwrap.dedent("""
    import socket, sys, time
    from pythonosc.osc_message_builder import OscMessageBuilder
    port, rate, count = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    dgrams = []
    for i in range(40):
        b = OscMessageBuilder(f"/livegan/bench/p{i}")
        b.add_arg(i / 40)
        dgrams.append(b.build().dgram)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.perf_counter()
    for n in range(count):
        # Pace in small groups: a busy wait keeps the rate even without sleeping per message.
        if n % 10 == 0:
            while time.perf_counter() - start < n / rate:
                pass
        sock.sendto(dgrams[n % 40], ("127.0.0.1", port))
    print(count / (time.perf_counter() - start))
""")


FPS = 60.0


def frame_loop(inbox: Inbox, seconds: float, until=None) -> tuple[list[float], int]:
    """A stand-in for the engine's frame loop at 60 fps: drain, plain Python, numpy, sleep.

    Runs for `seconds`, or while `until()` is false; returns frame intervals and messages drained.
    The interval is what the audience sees: 16.7 ms when every frame starts on time.
    """
    rng = np.random.default_rng(0)
    image = rng.random((256, 256, 3), dtype=np.float32)
    kernel = rng.random((3, 3), dtype=np.float32)
    values: dict[str, float] = {}
    intervals: list[float] = []
    drained = 0
    period = 1.0 / FPS
    start = last = time.perf_counter()
    end = start + seconds
    frame = 0
    while (until() is False) if until is not None else last < end:
        for address, value, _source in inbox.drain(512):
            values[address] = value
            drained += 1
        # Plain Python (mappings, smoothing, latent walk) holds the GIL all along; numpy releases
        # it inside each kernel and must win it back afterwards, as GL and torch calls do.
        total = 0.0
        for i in range(10000):
            total += i * 0.5
        out = image * kernel[0, 0]
        for dy in range(3):
            for dx in range(3):
                out += np.roll(np.roll(image, dy - 1, axis=0), dx - 1, axis=1) * kernel[dy, dx]
        np.clip(out, 0.0, 1.0, out=out)
        frame += 1
        delay = start + frame * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            start -= delay  # a late frame moves the schedule, as a real display loop does
        now = time.perf_counter()
        intervals.append(now - last)
        last = now
    return intervals, drained


def describe(intervals: list[float]) -> str:
    ms = sorted(1000.0 * x for x in intervals)

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(p * len(ms)))]

    return (f"{len(ms):5d} frames  p50 {statistics.median(ms):6.2f}  p90 {pct(0.90):6.2f}  "
            f"p99 {pct(0.99):6.2f}  max {ms[-1]:6.2f} ms")


def flood_run(seconds: float, rest_ratio: float) -> tuple[list[float], dict, int]:
    """Frame intervals while another process floods the server with garbage.

    `rest_ratio` replaces the receive thread's rest after a busy stretch (0 turns it off), to
    show what it buys.
    """
    saved = osc._REST_RATIO
    osc._REST_RATIO = rest_ratio
    inbox = Inbox()
    server = OscServer(inbox, port=0, log=RateLimitedLog(sink=lambda m: None))
    server.set_routes(ROUTES)
    server.start()
    try:
        sender = subprocess.Popen([sys.executable, "-c", GARBAGE_SENDER, str(server.port),
                                   str(seconds + 1.0)], stdout=subprocess.PIPE, text=True)
        time.sleep(0.7)  # let the sender start and the flood build up
        intervals = frame_loop(inbox, seconds)[0]
        sent = int(sender.communicate(timeout=30)[0] or 0)
    finally:
        server.stop()
        osc._REST_RATIO = saved
    return intervals, server.stats, sent


def valid_rate_run(rate: float, count: int, with_frame_loop: bool) -> tuple[float, int, dict]:
    """Send `count` valid messages at `rate`/s; returns (achieved send rate, posted, stats)."""
    # With the frame loop the inbox is the engine's (4096, drained 512 a frame); alone, a sink.
    inbox = Inbox() if with_frame_loop else Inbox(maxsize=count + 10)
    server = OscServer(inbox, port=0, log=RateLimitedLog(sink=lambda m: None))
    server.set_routes(ROUTES)
    server.start()
    received = 0
    try:
        sender = subprocess.Popen([sys.executable, "-c", VALID_SENDER, str(server.port),
                                   str(rate), str(count)], stdout=subprocess.PIPE, text=True)
        if with_frame_loop:
            received += frame_loop(inbox, 0.0, until=lambda: sender.poll() is not None)[1]
        out = sender.communicate(timeout=60)[0]
        time.sleep(0.3)
        received += len(inbox.drain(count + 10))
        achieved = float(out or 0.0)
    finally:
        server.stop()
    return achieved, received, server.stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the flood comparison")
    parser.add_argument("--rest-ratios", type=float, nargs="+", default=[osc._REST_RATIO, 0.0],
                        help="receive-thread rest ratios to compare under the flood "
                             f"(default: the server's {osc._REST_RATIO:g}, and 0 = none)")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else 5.0

    print(f"python {sys.version.split()[0]}, switch interval "
          f"{sys.getswitchinterval() * 1000:.0f} ms; frame loop at {FPS:g} fps "
          f"(frame interval in ms; on time = {1000 / FPS:.2f})")
    for _ in range(args.repeat):
        quiet = frame_loop(Inbox(), seconds)[0]
        print(f"  no flood               {describe(quiet)}")
        for ratio in args.rest_ratios:
            intervals, stats, sent = flood_run(seconds, ratio)
            label = f"garbage, rest ratio {ratio:g}"
            print(f"  {label:22s} {describe(intervals)}")
            print(f"  {'':22s} {sent / (seconds + 1.0):.0f}/s sent, the server read "
                  f"{stats['received'] / (seconds + 1.0):.0f}/s (the kernel dropped the rest)")

    print("valid messages, paced from another process:")
    count = 20000 if args.quick else 60000
    for with_loop in (False, True):
        for rate in (10000, 20000, 30000, 40000, 80000):
            achieved, received, stats = valid_rate_run(rate, count, with_loop)
            where = "with frame loop" if with_loop else "server alone   "
            print(f"  {where} sent {achieved:6.0f}/s  posted {received}/{count} "
                  f"({100.0 * received / count:6.2f}%)  server read {stats['received']}, "
                  f"inbox full {stats['dropped']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
