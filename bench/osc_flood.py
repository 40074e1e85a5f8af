"""Benchmark: does a flood of OSC slow the frame loop, how many valid messages per second get
through, and how late is the next control message after a burst?

Place in the data flow: exercises `liveGAN.sources.osc.OscServer` (sources -> the show's inbox)
beside a stand-in frame loop (fixed numpy work plus some plain Python, draining the inbox each
frame), the way the show runs it. Senders are separate processes, as a controller on the
network would be.

    .venv/bin/python bench/osc_flood.py                 # everything, about two minutes
    .venv/bin/python bench/osc_flood.py --quick         # shorter runs
    .venv/bin/python bench/osc_flood.py --only burst --repeat 5

Prints, for each part:
- `garbage`: the frame interval median, p90, p99 and max (ms) with no flood, with a garbage
  flood, and with the receive thread's rest after a busy stretch turned off (what it buys);
- `rates`: valid messages sent at rising rates, how many reached the inbox (server alone with
  a large event queue, and beside the frame loop);
- `burst`: 200 bundles of 1805 valid messages (about 13 MB) as fast as the sender can, then one
  marker message: how long until the frame loop applied it, in ms and in display frames
  (issue 9's target: within 2 frames).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time

import numpy as np

from liveGAN.log import RateLimitedLog
from liveGAN.show.inbox import Inbox
from liveGAN.sources import osc
from liveGAN.sources.osc import OscServer, Route

ROUTES = {f"/livegan/bench/p{i}": Route("float") for i in range(40)}
ROUTES["/touchosc/fader1"] = Route("any")
ROUTES["/livegan/bench/marker"] = Route("float")
CONTINUOUS = set(ROUTES)

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

# Runs in another process: `bundles` bundles of `per_bundle` valid messages as fast as it can
# (each message a different value, cycling over 40 addresses), then one marker message; prints
# the bytes sent and time.monotonic() (one clock for every process) just before the marker.
BURST_SENDER = textwrap.dedent("""
    import socket, sys, time
    from pythonosc.osc_bundle_builder import OscBundleBuilder, IMMEDIATELY
    from pythonosc.osc_message_builder import OscMessageBuilder
    port, bundles, per_bundle = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    def msg(address, value):
        b = OscMessageBuilder(address)
        b.add_arg(value)
        return b.build()
    payloads = []
    for k in range(4):
        bundle = OscBundleBuilder(IMMEDIATELY)
        for i in range(per_bundle):
            bundle.add_content(msg(f"/livegan/bench/p{i % 40}", (k * per_bundle + i) / 1e4))
        payloads.append(bundle.build().dgram)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    sent = 0
    for n in range(bundles):
        data = payloads[n % 4]
        sock.sendto(data, ("127.0.0.1", port))
        sent += len(data)
    marker = msg("/livegan/bench/marker", 1.0).dgram
    sent_at = time.monotonic()
    sock.sendto(marker, ("127.0.0.1", port))
    print(sent, sent_at)
""")


FPS = 60.0


def frame_loop(inbox: Inbox, seconds: float, until=None, on_frame=None
               ) -> tuple[list[float], int]:
    """A stand-in for the show's frame loop at 60 fps: drain, plain Python, numpy, sleep.

    Runs for `seconds`, or while `until()` is false; returns frame intervals and messages
    drained. `on_frame(latest, events)` sees each frame's drained inbox. The interval is what
    the audience sees: 16.7 ms when every frame starts on time.
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
        latest, events = inbox.drain()
        if on_frame is not None:
            on_frame(latest, events)
        for address, value in latest.items():
            values[address] = value
            drained += 1
        for address, value in events:
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


def quiet_log() -> RateLimitedLog:
    return RateLimitedLog(sink=lambda m: None)


def make_server(inbox: Inbox) -> OscServer:
    server = OscServer(inbox.post, port=0, log=quiet_log())
    server.set_routes(ROUTES)
    server.start()
    return server


def flood_run(seconds: float, rest_ratio: float) -> tuple[list[float], dict, int]:
    """Frame intervals while another process floods the server with garbage.

    `rest_ratio` replaces the receive thread's rest after a busy stretch (0 turns it off), to
    show what it buys.
    """
    saved = osc._REST_RATIO
    osc._REST_RATIO = rest_ratio
    inbox = Inbox()
    inbox.set_continuous(CONTINUOUS)
    server = make_server(inbox)
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
    """Send `count` valid messages at `rate`/s; returns (achieved send rate, posted, stats).

    The messages cycle over 40 addresses, queued as events (not coalesced), so every message
    that reaches the inbox is counted.
    """
    inbox = Inbox(max_events=count + 10)
    server = make_server(inbox)
    received = 0
    try:
        sender = subprocess.Popen([sys.executable, "-c", VALID_SENDER, str(server.port),
                                   str(rate), str(count)], stdout=subprocess.PIPE, text=True)
        if with_frame_loop:
            received += frame_loop(inbox, 0.0, until=lambda: sender.poll() is not None)[1]
        out = sender.communicate(timeout=60)[0]
        time.sleep(0.3)
        received += len(inbox.drain()[1])
        achieved = float(out or 0.0)
    finally:
        server.stop()
    return achieved, received, server.stats


def burst_run(bundles: int = 200, per_bundle: int = 1805) -> dict:
    """The next message's latency after a burst of valid bundles (issue 9, point 4)."""
    inbox = Inbox()
    inbox.set_continuous(CONTINUOUS)
    server = make_server(inbox)
    seen: list[float] = []
    drains: list[float] = []

    def on_frame(latest, events) -> None:
        drains.append(time.monotonic())
        if not seen and "/livegan/bench/marker" in latest:
            seen.append(drains[-1])

    try:
        sender = subprocess.Popen([sys.executable, "-c", BURST_SENDER, str(server.port),
                                   str(bundles), str(per_bundle)], stdout=subprocess.PIPE,
                                  text=True)
        deadline = time.monotonic() + 60.0
        frame_loop(inbox, 0.0, on_frame=on_frame,
                   until=lambda: bool(seen) or time.monotonic() > deadline)
        sent_bytes, sent_at = sender.communicate(timeout=60)[0].split()
    finally:
        server.stop()
    latency = seen[0] - float(sent_at) if seen else float("inf")
    # Which frame after the marker was sent applied it: 1 = the very next frame's drain.
    nth = sum(1 for t in drains if float(sent_at) < t <= seen[0]) if seen else 0
    return {"bytes": int(sent_bytes), "latency_ms": 1000.0 * latency, "nth_frame": nth,
            "stats": server.stats, "skipped": server.skipped}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each part")
    parser.add_argument("--only", choices=("garbage", "rates", "burst"), nargs="+",
                        default=["garbage", "rates", "burst"], help="parts to run")
    parser.add_argument("--rest-ratios", type=float, nargs="+", default=[osc._REST_RATIO, 0.0],
                        help="receive-thread rest ratios to compare under the flood "
                             f"(default: the server's {osc._REST_RATIO:g}, and 0 = none)")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else 5.0

    print(f"python {sys.version.split()[0]}, switch interval "
          f"{sys.getswitchinterval() * 1000:.0f} ms; frame loop at {FPS:g} fps "
          f"(frame interval in ms; on time = {1000 / FPS:.2f}); load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "garbage" in args.only:
        for _ in range(args.repeat):
            quiet = frame_loop(Inbox(), seconds)[0]
            print(f"  no flood               {describe(quiet)}")
            for ratio in args.rest_ratios:
                intervals, stats, sent = flood_run(seconds, ratio)
                label = f"garbage, rest ratio {ratio:g}"
                print(f"  {label:22s} {describe(intervals)}")
                print(f"  {'':22s} {sent / (seconds + 1.0):.0f}/s sent, the server read "
                      f"{stats['received'] / (seconds + 1.0):.0f}/s (the kernel dropped the rest)")

    if "rates" in args.only:
        print("valid messages, paced from another process:")
        count = 20000 if args.quick else 60000
        for with_loop in (False, True):
            for rate in (10000, 20000, 40000, 80000):
                achieved, received, stats = valid_rate_run(rate, count, with_loop)
                where = "with frame loop" if with_loop else "server alone   "
                print(f"  {where} sent {achieved:6.0f}/s  posted {received}/{count} "
                      f"({100.0 * received / count:6.2f}%)  server read {stats['received']}")

    if "burst" in args.only:
        print("one marker message alone, and after a burst of 200 bundles x 1805 valid messages "
              "(frame: which frame after the send applied it, 1 = the next one):")
        for bundles in (0, 200):
            latencies, nths = [], []
            for _ in range(args.repeat):
                result = burst_run(bundles=bundles)
                latencies.append(result["latency_ms"])
                nths.append(result["nth_frame"])
                stats = result["stats"]
                print(f"  {result['bytes'] / 1e6:4.1f} MB sent; marker applied after "
                      f"{result['latency_ms']:8.1f} ms, in frame {result['nth_frame']} "
                      f"(server read {stats['received']} datagrams, skipped "
                      f"{result['skipped']} stale, posted {stats['accepted']})")
            if len(latencies) > 1:
                label = "burst" if bundles else "alone"
                print(f"  {label}: median {statistics.median(latencies):.1f} ms (min "
                      f"{min(latencies):.1f}, max {max(latencies):.1f}), frame median "
                      f"{statistics.median(nths):g} (max {max(nths)}); load average "
                      f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
