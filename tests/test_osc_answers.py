"""OSC that answers, over real UDP on 127.0.0.1: address patterns, bundle time tags, get,
subscribe / unsubscribe, the latency probe, and bad requests."""
from __future__ import annotations

import socket
import time

import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from conftest import wait_for
from liveGAN.sources.osc_answers import NTP_EPOCH, PatternError, pattern_regex
from test_osc import Collected, PARAMS, routes_from_params


def build(address: str, *args) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def bundle_at(when: float | None, *messages: bytes) -> bytes:
    """A bundle of `messages` stamped `when` (time.time() seconds; None: immediately)."""
    builder = OscBundleBuilder(IMMEDIATELY)
    for m in messages:
        builder.add_content(OscMessage(m))
    data = bytearray(builder.build().dgram)
    if when is not None:
        ntp = when + NTP_EPOCH
        data[8:12] = int(ntp).to_bytes(4, "big")
        data[12:16] = int((ntp % 1) * 2**32).to_bytes(4, "big")
    return bytes(data)


class Client:
    """A UDP socket that sends to the show and reads what comes back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def messages(self, seconds: float) -> list[tuple[str, list]]:
        """Everything that arrives within `seconds` (bundles unpacked)."""
        out, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if data.startswith(b"#bundle"):
                out += [(m.address, m.params) for m in OscBundle(data)]
            else:
                m = OscMessage(data)
                out.append((m.address, m.params))
        return out

    def wait_for(self, address: str, seconds: float = 20.0) -> list:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for got in self.messages(0.2):
                if got[0] == address:
                    return got[1]
        raise AssertionError(f"nothing came to {address}")


# -- patterns ------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern, hits, misses", [
    ("/livegan/*/fade", ["/livegan/output/fade"], ["/livegan/output/x/fade"]),
    ("/livegan/latent/s??d", ["/livegan/latent/seed"], ["/livegan/latent/speed"]),
    ("/livegan/latent/[r-t]eed", ["/livegan/latent/seed"], ["/livegan/latent/feed"]),
    ("/livegan/latent/[!r-t]eed", ["/livegan/latent/feed"], ["/livegan/latent/seed"]),
    ("/livegan/{output,latent}/fade", ["/livegan/output/fade", "/livegan/latent/fade"],
     ["/livegan/grade/fade"]),
    ("/a.b", ["/a.b"], ["/axb"]),
])
def test_osc_patterns(pattern, hits, misses):
    regex = pattern_regex(pattern)
    assert all(regex.match(h) for h in hits)
    assert not any(regex.match(m) for m in misses)


@pytest.mark.parametrize("bad", ["/a/[bc", "/a/{b,c", "/a]", "/a/[z-a]", "/a/{b*,c}", "/a/[]"])
def test_malformed_patterns_are_refused(bad):
    with pytest.raises(PatternError):
        pattern_regex(bad)


@pytest.fixture
def osc():
    collected = Collected()
    routes = routes_from_params(PARAMS)
    collected.server.set_routes(routes)
    collected.server.start()
    yield collected
    collected.server.stop()


def test_patterns_reach_every_matching_address(osc):
    client = Client(osc.server.port)
    client.send(build("/livegan/*/fade", 0.25))
    client.send(build("/livegan/{latent,x}/se?d", 7))
    client.send(build("/livegan/[a-z]atent/next_*"))
    client.send(build("/livegan/[oops", 1.0))           # malformed: one line, ignored
    client.send(build("/nothing/*", 1.0))                # matches nothing: one line
    client.send(build("/livegan/output/fade", 0.5))
    assert osc.wait_for_address("/livegan/latent/next_seed")
    assert wait_for(lambda: ("/livegan/output/fade", 0.5, "osc") in osc.take())
    items = osc.take()
    assert ("/livegan/output/fade", 0.25, "osc") in items
    assert ("/livegan/latent/seed", 7.0, "osc") in items
    assert any("malformed pattern" in line for line in osc.lines)
    assert any("matches no address" in line for line in osc.lines)


def test_bundle_time_tags_are_honoured(osc):
    client = Client(osc.server.port)
    sent = time.time()
    client.send(bundle_at(sent + 0.6, build("/livegan/output/fade", 0.75)))
    client.send(bundle_at(sent - 5.0, build("/livegan/latent/seed", 3)))   # late: now
    client.send(bundle_at(None, build("/livegan/output/blackout", 1)))     # immediately
    assert osc.wait_for_address("/livegan/output/blackout")
    assert ("/livegan/latent/seed", 3.0, "osc") in osc.take()
    assert not any(i[0] == "/livegan/output/fade" for i in osc.take())
    assert osc.wait_for_address("/livegan/output/fade")
    assert time.time() - sent >= 0.55


# -- a show that answers -------------------------------------------------------------------


PATCH = """
[model]
preset = "stand-in"
[output]
size = [64, 48]
fps = 30
[osc]
port = 0
[[shaders]]
effect = "grade"
"""


@pytest.fixture
def show(playing):
    with playing(PATCH) as engine:
        yield engine


def test_get_replies_to_the_sender(show):
    port = show.source("OscSource").port
    client = Client(port)
    client.send(build("/livegan/output/fade", 0.5))
    assert wait_for(lambda: show.link.snapshot().values.get("output/fade") == 0.5)
    client.send(build("/livegan/get", "/livegan/output/fade"))
    assert client.wait_for("/livegan/output/fade") == [0.5]
    client.send(build("/livegan/get", "/livegan/latent/seed"))
    assert client.wait_for("/livegan/latent/seed") == [0]           # an int stays an int
    client.send(build("/livegan/get", "/livegan/grade/{saturation,contrast}"))
    got = dict(client.messages(1.0))
    assert set(got) >= {"/livegan/grade/saturation", "/livegan/grade/contrast"}
    client.send(build("/livegan/get", "/livegan/no/such"))
    assert "no parameter" in client.wait_for("/livegan/error")[0]
    # To another port than the one it came from.
    other = Client(port)
    client.send(build("/livegan/get", "/livegan/output/fade", other.sock.getsockname()[1]))
    assert other.wait_for("/livegan/output/fade") == [0.5]
    client.send(build("/livegan/get", 12))                          # bad: one line, no reply
    assert wait_for(lambda: any("get takes an address" in l for l in show.lines))


def test_subscribe_sends_changes_and_status_until_unsubscribed(show):
    port = show.source("OscSource").port
    listener = Client(port)
    host, listen_port = listener.sock.getsockname()
    control = Client(port)
    control.send(build("/livegan/subscribe", host, listen_port, "/livegan/output/*"))
    assert listener.wait_for("/livegan/status/fps")[0] > 0
    listener.messages(0.5)
    control.send(build("/livegan/output/fade", 0.25))
    # The fade glides (its smoothing), and each step on the way is sent, down to 0.25.
    fades = []
    assert wait_for(lambda: fades.extend(v for a, v in listener.messages(0.2)
                                         if a == "/livegan/output/fade")
                    or (fades and fades[-1] == [0.25]))
    assert len(fades) > 1 and all(b[0] < a[0] for a, b in zip(fades, fades[1:]))
    control.send(build("/livegan/grade/saturation", 1.5))      # outside the pattern
    got = listener.messages(1.0)
    assert not any(a == "/livegan/grade/saturation" for a, _ in got)
    assert not any(a == "/livegan/output/fade" for a, _ in got)  # unchanged: not sent again
    status = dict(listener.messages(1.0))
    assert status["/livegan/status/bpm"] == [pytest.approx(120.0)]
    assert status["/livegan/status/patch"][0].endswith("patch.toml")
    control.send(build("/livegan/unsubscribe", host, listen_port))
    assert wait_for(lambda: any("no longer sending" in l for l in show.lines))
    listener.messages(0.3)
    control.send(build("/livegan/output/fade", 0.75))
    assert listener.messages(1.0) == []


def test_an_unreachable_subscriber_causes_no_storm(show):
    port = show.source("OscSource").port
    answers = show.source("OscSource").answers
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()                                             # nobody listens there now
    client = Client(port)
    client.send(build("/livegan/subscribe", "127.0.0.1", dead_port))
    assert wait_for(lambda: answers.subscribers)
    sent = answers.sent
    frames = show.clock.frame
    for i in range(200):                                      # values change all the time
        client.send(build("/livegan/output/fade", (i % 10) / 10))
        time.sleep(0.005)
    time.sleep(1.0)
    elapsed_s = 2.0
    # At most one datagram per feedback tick (30 a second) went to it.
    assert answers.sent - sent <= 35 * elapsed_s + 5
    assert show.clock.frame - frames > 20                    # the show kept playing
    client.send(build("/livegan/subscribe", "no.such.host.invalid", 9))
    assert wait_for(lambda: any("unknown host" in l for l in show.lines))


def test_probe_is_acknowledged_when_the_next_frame_is_presented(show):
    port = show.source("OscSource").port
    client = Client(port)
    times = []
    for probe in range(5):
        sent = time.perf_counter()
        client.send(build("/livegan/probe", probe))
        ack = client.wait_for("/livegan/probe/ack")
        times.append(time.perf_counter() - sent)
        assert ack[0] == probe
        # Between arrival and presentation: positive, and no more than the wait it took.
        assert 0.0 < ack[1] <= 1000.0 * times[-1] + 1.0
    client.send(build("/livegan/probe", "tag-7"))
    assert client.wait_for("/livegan/probe/ack")[0] == "tag-7"
