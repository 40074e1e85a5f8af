"""OSCQuery over HTTP and WebSocket on loopback, and its zeroconf advertisement, from a running
show (and a browser in another process)."""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import pytest
from pythonosc.osc_message import OscMessage

from conftest import wait_for
from test_osc_answers import Client, build

PATCH = """
[model]
preset = "stand-in"
[output]
size = [64, 48]
fps = 30
[osc]
port = 0
query_port = 0
[[shaders]]
effect = "grade"
"""


@pytest.fixture
def show(playing):
    with playing(PATCH) as engine:
        yield engine


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            body = reply.read()
            return reply.status, json.loads(body) if body else None
    except urllib.error.HTTPError as err:
        return err.code, None


def test_namespace_over_http(show):
    source = show.source("OscSource")
    base = f"http://127.0.0.1:{source.query.port}"
    status, root = get(base + "/")
    assert status == 200 and root["FULL_PATH"] == "/"
    fade = root["CONTENTS"]["livegan"]["CONTENTS"]["output"]["CONTENTS"]["fade"]
    param = show.registry["output/fade"]
    assert fade["FULL_PATH"] == "/livegan/output/fade" and fade["TYPE"] == "f"
    assert fade["RANGE"] == [{"MIN": param.min, "MAX": param.max}]
    assert fade["ACCESS"] == 3 and fade["DESCRIPTION"] == param.description
    seed = root["CONTENTS"]["livegan"]["CONTENTS"]["latent"]["CONTENTS"]["seed"]
    assert seed["TYPE"] == "i" and seed["VALUE"] == [show.values.typed("latent/seed")]
    trigger = root["CONTENTS"]["livegan"]["CONTENTS"]["latent"]["CONTENTS"]["next_seed"]
    assert trigger["TYPE"] == "I" and trigger["ACCESS"] == 2 and "VALUE" not in trigger
    # Every parameter of the registry is there.
    for p in show.registry:
        status, node = get(base + p.address)
        assert status == 200 and node["FULL_PATH"] == p.address
    Client(source.port).send(build("/livegan/output/fade", 0.5))
    assert wait_for(lambda: get(base + "/livegan/output/fade?VALUE")[1] == {"VALUE": [0.5]})
    status, info = get(base + "/?HOST_INFO")
    assert info["OSC_PORT"] == source.port and info["OSC_TRANSPORT"] == "UDP"
    assert info["EXTENSIONS"]["LISTEN"] is True
    assert get(base + "/livegan/nothing")[0] == 404
    assert get(base + "/?BOGUS")[0] == 400


def ws_connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    import hashlib

    accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    assert accept.encode() in head
    return sock


def ws_send_text(sock: socket.socket, text: str) -> None:
    payload, mask = text.encode(), os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)


def ws_read(sock: socket.socket) -> tuple[int, bytes]:
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk
            data += chunk
        return data
    first, second = exactly(2)
    size = second & 0x7F
    if size == 126:
        size = struct.unpack(">H", exactly(2))[0]
    return first & 0x0F, exactly(size)


def test_listen_over_websocket(show):
    source = show.source("OscSource")
    sock = ws_connect(source.query.port)
    ws_send_text(sock, json.dumps({"COMMAND": "LISTEN", "DATA": "/livegan/grade/saturation"}))
    ws_send_text(sock, "not json at all")                     # ignored, connection stays
    opcode, payload = ws_read(sock)                           # the current value first
    assert opcode == 0x2
    first = OscMessage(payload)
    assert first.address == "/livegan/grade/saturation"
    Client(source.port).send(build("/livegan/grade/saturation", 1.75))
    values = []
    assert wait_for(lambda: values.append(OscMessage(ws_read(sock)[1]).params[0])
                    or values[-1] == pytest.approx(1.75))
    ws_send_text(sock, json.dumps({"COMMAND": "IGNORE", "DATA": "/livegan/grade/saturation"}))
    sock.sendall(bytes([0x88, 0x80]) + os.urandom(4))        # close
    sock.settimeout(5)
    while True:
        opcode, _ = ws_read(sock)
        if opcode == 0x8:
            break
    sock.close()


BROWSER = textwrap.dedent("""
    import sys, time
    from zeroconf import ServiceBrowser, Zeroconf, IPVersion
    found = {}
    class Listener:
        def add_service(self, zc, kind, name):
            info = zc.get_service_info(kind, name, timeout=3000)
            if info is not None:
                found[name] = info.port
        def update_service(self, *a):
            pass
        def remove_service(self, *a):
            pass
    zc = Zeroconf(ip_version=IPVersion.V4Only)
    browsers = [ServiceBrowser(zc, k, Listener()) for k in ("_oscjson._tcp.local.", "_osc._udp.local.")]
    deadline = time.time() + float(sys.argv[1])
    while time.time() < deadline and len([n for n in found if "liveGAN" in n]) < 2:
        time.sleep(0.1)
    print(repr(found), flush=True)
    zc.close()
""")


def test_zeroconf_advertises_both_services(show):
    source = show.source("OscSource")
    out = subprocess.run([sys.executable, "-c", BROWSER, "20"], capture_output=True, text=True,
                         timeout=60).stdout
    found = eval(out)  # noqa: S307 - our own process printed a dict literal
    ports = {name.split(".")[1]: port for name, port in found.items() if "liveGAN" in name}
    assert ports == {"_oscjson": source.query.port, "_osc": source.port}
