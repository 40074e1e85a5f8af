"""OSC under a burst (issue 9, point 4): the newest value of each address wins, and old values
never queue in front of new ones. The burst comes from another process over real UDP while the
receive thread is held up, so the whole burst is waiting in the socket when it reads again."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from conftest import wait_for
from liveGAN.log import RateLimitedLog
from liveGAN.sources.osc import OscServer, Route, send

# 60 bundles of 300 messages: 18 000 messages, each address's values rising, then a trigger
# and a last value for /a; sent while the server's thread is stuck posting /hold.
BURST = textwrap.dedent("""
    import socket, sys
    from pythonosc.osc_bundle_builder import OscBundleBuilder, IMMEDIATELY
    from pythonosc.osc_message_builder import OscMessageBuilder
    port = int(sys.argv[1])
    def msg(address, *args):
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        return b.build()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    for b in range(60):
        bundle = OscBundleBuilder(IMMEDIATELY)
        for i in range(300):
            bundle.add_content(msg(("/a", "/b", "/c")[i % 3], float(n)))
            n += 1
        sock.sendto(bundle.build().dgram, ("127.0.0.1", port))
    sock.sendto(msg("/go").dgram, ("127.0.0.1", port))
    sock.sendto(msg("/a", -1.0).dgram, ("127.0.0.1", port))
    print(n)
""")


def test_a_burst_is_read_newest_first_and_old_values_never_queue():
    posted: list[tuple[str, tuple]] = []
    holding, release = threading.Event(), threading.Event()

    def post(address: str, *values) -> bool:
        if address == "/hold":
            holding.set()
            release.wait(20)  # the thread is stuck here while the burst fills the socket
        else:
            posted.append((address, values))
        return True

    lines: list[str] = []
    server = OscServer(post, port=0, log=RateLimitedLog(sink=lines.append))
    server.set_routes({"/hold": Route("float"), "/a": Route("float"), "/b": Route("float"),
                       "/c": Route("int"), "/go": Route("trigger")})
    with server:
        send("/hold", 1.0, port=server.port)
        assert holding.wait(10)
        sender = subprocess.run([sys.executable, "-c", BURST, str(server.port)],
                                capture_output=True, text=True, timeout=60, check=True)
        sent = int(sender.stdout)
        release.set()
        assert wait_for(lambda: ("/a", (-1.0,)) in posted, 20)
    received = posted
    # The newest values all arrived, the trigger just before the last /a.
    assert received[-2:] == [("/go", (1.0,)), ("/a", (-1.0,))]
    # Everything else is the newest value of /b and /c (and none older): old values were left
    # out, not queued in front of the new ones.
    values = {a: v[0] for a, v in received[:-2]}
    assert set(values) <= {"/a", "/b", "/c"}
    newest = {"/a": float(sent - 3), "/b": float(sent - 2), "/c": float(sent - 1)}
    assert all(values[a] == newest[a] for a in values), values
    assert len(received) <= 5, received
    assert server.skipped > 0 and server.superseded > 0
    assert sum("skipped" in line for line in lines) == 1


def test_a_normal_stream_is_read_whole_and_in_order():
    posted: list[float] = []
    holding, release = threading.Event(), threading.Event()

    def post(address: str, *values) -> bool:
        if address == "/hold":
            holding.set()
            release.wait(20)
        else:
            posted.append(values[0])
        return True

    server = OscServer(post, port=0, log=RateLimitedLog(sink=lambda m: None))
    server.set_routes({"/hold": Route("float"), "/a": Route("float")})
    with server:
        send("/hold", 1.0, port=server.port)
        assert holding.wait(10)
        subprocess.run([sys.executable, "-c", textwrap.dedent("""
            import sys
            from pythonosc.udp_client import SimpleUDPClient
            client = SimpleUDPClient("127.0.0.1", int(sys.argv[1]))
            for i in range(200):
                client.send_message("/a", float(i))
        """), str(server.port)], check=True, timeout=60)
        release.set()
        assert wait_for(lambda: len(posted) == 200, 20)
    # A few hundred messages waiting at once is no backlog: every one is read, in order.
    assert posted == [float(i) for i in range(200)]
    assert server.skipped == 0 and server.superseded == 0
