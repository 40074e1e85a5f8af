"""OSC input over real UDP on 127.0.0.1, with messages sent from another process."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from conftest import wait_for
from liveGAN.log import RateLimitedLog
from liveGAN.params import Param
from liveGAN.sources.osc import (
    LOG_COUNT, LOG_MALFORMED, LOG_TYPE, LOG_UNKNOWN, OscServer, Route, routes_from_params, send,
)

PARAMS = [
    Param("output", "fade", "float", 1.0, 0.0, 1.0),
    Param("latent", "seed", "int", 0, 0, 100000),
    Param("output", "blackout", "bool", 0, 0, 1),
    Param("latent", "next_seed", "trigger"),
]
FADER = "/touchosc/fader1"

# Put before every sender script: the port, a python-osc client and a raw socket.
SENDER_PREAMBLE = textwrap.dedent("""
    import random, socket, struct, sys, time
    from pythonosc.udp_client import SimpleUDPClient
    from pythonosc.osc_message_builder import OscMessageBuilder
    from pythonosc.osc_bundle_builder import OscBundleBuilder, IMMEDIATELY
    PORT = int(sys.argv[1])
    client = SimpleUDPClient("127.0.0.1", PORT)
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    def send_raw(data):
        raw.sendto(data, ("127.0.0.1", PORT))
    def message(address, *args):
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        return builder.build()
""")


def sender(port: int, body: str) -> subprocess.Popen:
    """Start another Python process that runs `body` against the server's port."""
    script = SENDER_PREAMBLE + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", script, str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_sender(port: int, body: str, timeout: float = 30.0) -> str:
    process = sender(port, body)
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


class PostBox:
    """What an OscServer posted, in order: (address, value, "osc") (the show's inbox, for
    tests of OSC alone). Refuses posts beyond `maxsize`, as a full inbox would."""

    def __init__(self, maxsize: int = 1 << 20) -> None:
        self.items: list = []
        self.maxsize = maxsize
        self.lock = threading.Lock()

    def post(self, address: str, *values) -> bool:
        with self.lock:
            if len(self.items) >= self.maxsize:
                return False
            self.items.append((address, values[0] if len(values) == 1 else values, "osc"))
            return True

    def drain(self, limit: int | None = None) -> list:
        with self.lock:
            items, self.items = self.items, []
        return items


class Collected:
    """What a test server did: its inbox, and the log lines with their kinds."""

    def __init__(self) -> None:
        self.inbox = PostBox()
        self.lines: list[str] = []
        self.kinds: list[str] = []
        # A long interval: each kind of mistake is reported once during a test.
        log = RateLimitedLog(interval=600.0, sink=self.lines.append)

        def recording_log(kind: str, message: str) -> None:
            self.kinds.append(kind)
            log(kind, message)

        self.server = OscServer(self.inbox.post, port=0, log=recording_log)
        self.items: list[tuple[str, object, str]] = []

    def take(self) -> list[tuple[str, object, str]]:
        """Everything posted so far (drains the inbox into the running list)."""
        self.items.extend(self.inbox.drain(1 << 20))
        return self.items

    def wait_for_address(self, address: str) -> bool:
        return wait_for(lambda: any(item[0] == address for item in self.take()), timeout=10.0)


@pytest.fixture
def osc():
    collected = Collected()
    routes = routes_from_params(PARAMS)
    routes[FADER] = Route("any")
    collected.server.set_routes(routes)
    collected.server.start()
    yield collected
    collected.server.stop()


def test_routes_from_params_cover_every_param():
    routes = routes_from_params(PARAMS)
    assert routes == {"/livegan/output/fade": Route("float"), "/livegan/latent/seed": Route("int"),
                      "/livegan/output/blackout": Route("bool"),
                      "/livegan/latent/next_seed": Route("trigger")}
    with pytest.raises(ValueError, match="kind"):
        Route("string")


def test_valid_messages_arrive_with_the_right_values(osc):
    run_sender(osc.server.port, """
        client.send_message("/livegan/output/fade", 0.25)
        client.send_message("/livegan/output/fade", 1)
        client.send_message("/livegan/latent/seed", 3.6)
        client.send_message("/livegan/latent/seed", 7)
        client.send_message("/livegan/output/blackout", True)
        client.send_message("/livegan/output/blackout", False)
        client.send_message("/livegan/output/blackout", 1)
        client.send_message("/livegan/output/blackout", 0.0)
        client.send_message("/livegan/latent/next_seed", [])
        client.send_message("/livegan/latent/next_seed", 1)
        client.send_message("/touchosc/fader1", 0.7)
        # A double, and a message without a type tag string at all (old senders): a trigger.
        client.send(message("/livegan/output/fade", 0.5))
        send_raw(b"/livegan/output/fade\\x00\\x00\\x00\\x00,d\\x00\\x00" + struct.pack(">d", 0.125))
        send_raw(b"/livegan/latent/next_seed\\x00\\x00\\x00")
    """)
    assert wait_for(lambda: len(osc.take()) >= 14, timeout=10.0)
    assert osc.take() == [
        ("/livegan/output/fade", 0.25, "osc"), ("/livegan/output/fade", 1.0, "osc"),
        ("/livegan/latent/seed", 4.0, "osc"), ("/livegan/latent/seed", 7.0, "osc"),
        ("/livegan/output/blackout", 1.0, "osc"), ("/livegan/output/blackout", 0.0, "osc"),
        ("/livegan/output/blackout", 1.0, "osc"), ("/livegan/output/blackout", 0.0, "osc"),
        ("/livegan/latent/next_seed", 1.0, "osc"), ("/livegan/latent/next_seed", 1.0, "osc"),
        (FADER, pytest.approx(0.7, abs=1e-6), "osc"), ("/livegan/output/fade", 0.5, "osc"),
        ("/livegan/output/fade", 0.125, "osc"), ("/livegan/latent/next_seed", 1.0, "osc"),
    ]
    assert all(type(value) is float for _, value, _ in osc.take())
    assert osc.server.stats == {"received": 14, "accepted": 14, "rejected": 0, "dropped": 0}
    assert osc.lines == []


def test_bad_messages_are_rejected_counted_and_reported_once_each(osc, capfd):
    run_sender(osc.server.port, """
        client.send_message("/livegan/nowhere/fade", 0.5)           # unknown address
        client.send_message("/livegan/output/fade", "abc")          # wrong type
        client.send_message("/livegan/output/fade", "again")        # wrong type, same kind
        client.send_message("/livegan/output/fade", [0.1, 0.2])     # two args
        client.send_message("/livegan/output/fade", [])             # no args
        client.send_message("/livegan/latent/next_seed", [1, 2])    # too many for a trigger
        send_raw(bytes(random.Random(3).randrange(256) for _ in range(61)).replace(b"/", b"?")
                 .replace(b"#", b"?"))                             # random bytes
        send_raw(b"/liv\\xffegan\\x00\\x00\\x00,f\\x00\\x00" + bytes(4))     # address not UTF-8
        send_raw(message("/livegan/output/fade", 0.5).dgram[:-2])  # truncated
        send_raw(b"/livegan/output/fade\\x00\\x00\\x00\\x00,x\\x00\\x00abcd")  # unknown type tag
        send_raw(b"/livegan/output/fade\\x00\\x00\\x00\\x00f\\x00\\x00\\x00abcd")  # no ','
        send_raw(b"/livegan/output/fade\\x00\\x00\\x00\\x00,f\\x00\\x00\\x7f\\xc0\\x00\\x00")  # NaN
        client.send_message("/livegan/output/fade", 0.75)           # still listening
    """)
    assert osc.wait_for_address("/livegan/output/fade")
    assert osc.take() == [("/livegan/output/fade", 0.75, "osc")]
    assert osc.server.stats == {"received": 13, "accepted": 1, "rejected": 12, "dropped": 0}
    # One line per kind of mistake, the first of each; the rest are counted for later.
    assert sorted(set(osc.kinds)) == sorted({LOG_UNKNOWN, LOG_TYPE, LOG_COUNT, LOG_MALFORMED})
    assert len(osc.kinds) == 12
    assert osc.lines == [
        "OSC /livegan/nowhere/fade: unknown address (`livegan osc list` shows the address space)",
        "OSC /livegan/output/fade: expected one number, got 'abc' (string)",
        "OSC /livegan/output/fade: expected one number, got 2 values: "
        "0.10000000149011612 (float), 0.20000000298023224 (float)",
        osc.lines[3],
    ]
    assert osc.lines[3].startswith("OSC: ignored a 61-byte datagram that is neither a message "
                                   "nor a bundle: b'")
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("body, expected", [
    ('client.send_message("/livegan/output/fade", [])', "expected one number, got nothing"),
    ('client.send_message("/livegan/latent/next_seed", [1, 2])',
     "a trigger takes nothing or one value, got 2: 1 (int), 2 (int)"),
    ('send_raw(b"/liv\\xffegan\\x00\\x00\\x00,f\\x00\\x00" + bytes(4))', "address is not UTF-8"),
    ('send_raw(message("/livegan/output/fade", 0.5).dgram[:-2])', "truncated message"),
    ('send_raw(b"/livegan/output/fade\\x00\\x00\\x00\\x00,x\\x00\\x00abcd")',
     "unsupported type tag 'x'"),
    ('send_raw(b"/livegan/output/fade\\x00\\x00\\x00\\x00f\\x00\\x00\\x00abcd")',
     "type tags must start with ','"),
    ('send_raw(b"/livegan/output/fade\\x00\\x00\\x00\\x00,f\\x00\\x00\\x7f\\xc0\\x00\\x00")',
     "expected a finite number, got nan"),
    ('client.send_message("/livegan/output/fade", True)', None),
])
def test_each_mistake_says_what_was_wrong(osc, body, expected):
    run_sender(osc.server.port, body + "\nclient.send_message('/touchosc/fader1', 0.5)\n")
    assert osc.wait_for_address(FADER)
    posted = [item for item in osc.take() if item[0] != FADER]
    if expected is None:
        # OSC true is a number where a number fits: 1.0.
        assert posted == [("/livegan/output/fade", 1.0, "osc")] and osc.lines == []
    else:
        assert posted == [] and len(osc.lines) == 1 and expected in osc.lines[0], osc.lines


def test_bundles_nested_and_broken(osc):
    run_sender(osc.server.port, """
        inner = OscBundleBuilder(IMMEDIATELY)
        inner.add_content(message("/livegan/latent/seed", 12))
        inner.add_content(message("/livegan/nowhere", 1.0))
        outer = OscBundleBuilder(IMMEDIATELY)
        outer.add_content(message("/livegan/output/fade", 0.5))
        outer.add_content(inner.build())
        client.send(outer.build())
        # An element that claims more bytes than the bundle holds: refused whole.
        good = message("/livegan/output/fade", 0.25).dgram
        send_raw(b"#bundle\\x00" + bytes(8) + struct.pack(">i", len(good)) + good
                 + struct.pack(">i", 400) + good)
        send_raw(b"#bundle\\x00" + bytes(3))
        deep = good
        for _ in range(20):
            deep = b"#bundle\\x00" + bytes(8) + struct.pack(">i", len(deep)) + deep
        send_raw(deep)
        # A message after a nested bundle keeps its place.
        first = OscBundleBuilder(IMMEDIATELY)
        first.add_content(inner.build())
        first.add_content(message("/livegan/output/fade", 0.125))
        client.send(first.build())
        client.send_message("/touchosc/fader1", 0.5)
    """)
    assert osc.wait_for_address(FADER)
    assert osc.take() == [("/livegan/output/fade", 0.5, "osc"),
                          ("/livegan/latent/seed", 12.0, "osc"),
                          ("/livegan/latent/seed", 12.0, "osc"),
                          ("/livegan/output/fade", 0.125, "osc"), (FADER, 0.5, "osc")]
    assert osc.server.stats["rejected"] == 5
    assert "OSC /livegan/nowhere: unknown address" in osc.lines[0]
    assert osc.lines[1].startswith("OSC: ignored a malformed bundle: element of 400 bytes does "
                                   "not fit in the")
    assert osc.kinds.count(LOG_MALFORMED) == 3


GARBAGE_FLOOD = """
    rng = random.Random(11)
    valid = message("/livegan/output/fade", 0.5).dgram
    pool = []
    for i in range(3000):
        kind = i % 6
        if kind == 0:    # random bytes, some starting like a message or a bundle
            head = rng.choice([b"", b"/", b"#bundle\\x00"])
            pool.append(head + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120))))
        elif kind == 1:  # truncated valid messages
            pool.append(valid[:rng.randrange(1, len(valid))])
        elif kind == 2:  # bad type tags
            tags = b"," + bytes(rng.randrange(33, 127) for _ in range(3))
            head = b"/livegan/output/fade\\x00\\x00\\x00\\x00"
            pool.append(head + tags + b"\\x00" * 4 + bytes(8))
        elif kind == 3:  # valid-looking unknown addresses
            pool.append(message(f"/livegan/output/fade{i}", 0.5).dgram)
        elif kind == 4:  # right address, wrong arguments
            pool.append(message("/livegan/output/fade", "x" * rng.randrange(9), 1).dgram)
        else:            # bundles with broken element sizes (never the right one)
            size = rng.choice([n for n in range(-9, 999) if n != len(valid)])
            pool.append(b"#bundle\\x00" + bytes(8) + struct.pack(">i", size) + valid)
    for n in range(30000):
        send_raw(pool[n % len(pool)])
    print(len(pool))
"""


def stand_in_frame_loop(inbox: PostBox, done: threading.Event) -> tuple[list[float], list]:
    """Fixed numpy work and an inbox drain per frame until `done`; frame end times, messages."""
    image = np.random.default_rng(0).random((96, 96, 3), dtype=np.float32)
    ends, drained = [], []
    while not done.is_set():
        drained.extend(inbox.drain(512))
        blurred = (np.roll(image, 1, axis=0) + np.roll(image, -1, axis=1) + image) / 3.0
        image = np.clip(blurred * 1.01, 0.0, 1.0)
        ends.append(time.perf_counter())
    return ends, drained


def test_garbage_flood_does_not_stop_the_frame_loop_or_the_server(osc, capfd):
    port = osc.server.port
    process = sender(port, GARBAGE_FLOOD)
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (process.wait(timeout=60), done.set()))
    waiter.start()
    started = time.perf_counter()
    ends, drained = stand_in_frame_loop(osc.inbox, done)
    finished = time.perf_counter()
    waiter.join()
    assert process.returncode == 0, process.stderr.read()

    # The frame loop kept going throughout: frames ended in every quarter of the flood.
    assert len(ends) >= 10
    quarters = {min(int(4 * (t - started) / (finished - started)), 3) for t in ends}
    assert quarters == {0, 1, 2, 3}
    # Garbage posts nothing and is counted (an empty bundle is valid OSC, so `received` can be a
    # little above `rejected`; under a backlog older datagrams are skipped unread, counted in
    # `skipped`), and the server still listens.
    stats = osc.server.stats
    assert stats["accepted"] == 0 and stats["rejected"] > 100, stats
    assert stats["rejected"] + osc.server.skipped <= stats["received"], stats
    assert drained == [] and osc.take() == []
    run_sender(port, 'client.send_message("/livegan/output/fade", 0.375)')
    assert osc.wait_for_address("/livegan/output/fade")
    assert osc.take() == [("/livegan/output/fade", 0.375, "osc")]
    assert osc.server.running
    # No storm: each kind of mistake (and a backlog notice) printed once, and python-osc
    # printed nothing.
    assert len(osc.lines) == len(set(osc.kinds)) <= 5
    stderr = capfd.readouterr().err
    assert "Traceback" not in stderr and "Unhandled" not in stderr


def test_set_routes_swaps_while_receiving(osc):
    process = sender(osc.server.port, """
        for n in range(4000):
            client.send_message("/a" if n % 2 else "/b", float(n))
            if n % 50 == 0:
                time.sleep(0.002)
    """)
    table_a = {"/a": Route("float")}
    table_ab = {"/a": Route("float"), "/b": Route("int")}
    swaps = 0
    while process.poll() is None:
        osc.server.set_routes(table_a if swaps % 2 else table_ab)
        swaps += 1
        time.sleep(0.0005)
    assert process.returncode == 0
    assert swaps > 10
    # Every datagram was decided against one table or the other: nothing lost or half-routed.
    assert wait_for(lambda: osc.server.stats["accepted"] + osc.server.stats["rejected"] == 4000,
                    timeout=5.0)
    stats = osc.server.stats
    assert stats["received"] == 4000
    posted = list(osc.take())
    assert len(posted) == stats["accepted"] and {a for a, _, _ in posted} <= {"/a", "/b"}
    assert all(v == int(v) for a, v, _ in posted if a == "/b")
    assert any(a == "/a" for a, _, _ in posted)
    # After the last swap only the new table counts.
    osc.server.set_routes({"/b": Route("any")})
    run_sender(osc.server.port, """
        client.send_message("/a", 1.0)
        client.send_message("/b", 0.5)
    """)
    assert wait_for(lambda: osc.take()[len(posted):] == [("/b", 0.5, "osc")], timeout=5.0)
    assert osc.server.stats["rejected"] == stats["rejected"] + 1


def test_set_routes_refuses_bad_addresses():
    server = OscServer(PostBox().post, port=0)
    with pytest.raises(ValueError, match="must start with '/'"):
        server.set_routes({"livegan/output/fade": Route("float")})


def test_start_stop_many_times_and_reuse_the_port():
    inbox = PostBox()
    for _ in range(20):
        server = OscServer(inbox.post, port=0)
        server.start()
        thread, sock = server._thread, server._sock
        server.stop()
        assert not thread.is_alive() and sock.fileno() == -1 and not server.running
        server.stop()  # a second stop is harmless
    # The same fixed port binds again right after a stop, and a taken port is an OSError.
    first = OscServer(inbox.post, port=0)
    first.start()
    port = first.port
    taken = OscServer(inbox.post, port=port)
    with pytest.raises(OSError):
        taken.start()
    first.stop()
    with OscServer(inbox.post, port=port) as again:
        again.set_routes({"/x": Route("trigger")})
        send("/x", port=port)
        assert wait_for(lambda: inbox.drain() == [("/x", 1.0, "osc")], timeout=5.0)


def test_stop_is_prompt_during_a_flood(osc):
    process = sender(osc.server.port, """
        data = b"/livegan/nowhere\\x00\\x00\\x00\\x00,f\\x00\\x00" + bytes(4)
        end = time.perf_counter() + 5
        while time.perf_counter() < end:
            send_raw(data)
    """)
    try:
        assert wait_for(lambda: osc.server.stats["received"] > 1000, timeout=10.0)
        thread = osc.server._thread
        osc.server.stop()
        assert not thread.is_alive()
    finally:
        process.kill()
        process.communicate()


def test_send_helper_reaches_a_server(osc):
    send("/livegan/latent/seed", 42, port=osc.server.port)
    send("/livegan/output/blackout", True, port=osc.server.port)
    assert wait_for(lambda: len(osc.take()) == 2, timeout=5.0)
    assert osc.take() == [("/livegan/latent/seed", 42.0, "osc"),
                          ("/livegan/output/blackout", 1.0, "osc")]


def test_a_full_inbox_drops_and_counts():
    inbox = PostBox(maxsize=5)
    server = OscServer(inbox.post, port=0, log=RateLimitedLog(sink=lambda m: None))
    server.set_routes({"/f": Route("float")})
    with server:
        run_sender(server.port, """
            for n in range(20):
                client.send_message("/f", float(n))
        """)
        assert wait_for(lambda: server.stats["dropped"] == 15, timeout=5.0)
    assert server.stats == {"received": 20, "accepted": 5, "rejected": 0, "dropped": 15}
    assert [v for _, v, _ in inbox.drain()] == [0.0, 1.0, 2.0, 3.0, 4.0]
