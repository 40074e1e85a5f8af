"""OSCQuery: the show's whole address space over HTTP, live values over WebSocket, found by
zeroconf, so TouchDesigner, Max, Chataigne and Ossia list every parameter without typing one.

Place in the data flow: the show's registry and Snapshot (through its link) -> **oscquery** ->
HTTP clients. It only reads; setting values is OSC's job (the advertised UDP port).

- `GET /` (or any node's path) answers the OSCQuery JSON tree: FULL_PATH, CONTENTS, and for each
  parameter TYPE (`f` float, `i` int, `T` bool, `I` trigger), VALUE, RANGE, ACCESS (3 read and
  write, 1 read-only, 2 write-only for triggers) and DESCRIPTION; `?HOST_INFO` describes the
  server; `?VALUE`, `?TYPE`, ... answer one attribute.
- A WebSocket on the same port takes `{"COMMAND": "LISTEN", "DATA": "<path>"}` and `IGNORE`;
  each listened value is sent as a binary OSC message when it changes (at most 30 a second).
- zeroconf advertises `_oscjson._tcp` (this server) and `_osc._udp` (the OSC port).

Why not python-oscquery: it has no LISTEN and no WebSocket (the issue needs both), keeps values
in its own tree that would have to be copied from every frame, and pulls in `requests`. This is
the protocol's core on the standard library (http.server, hashlib for the WebSocket handshake);
zeroconf comes from the zeroconf package.
"""
from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from liveGAN.sources.osc_answers import message, osc_value

ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "VALUE", "RANGE", "ACCESS", "DESCRIPTION",
              "HOST_INFO")
TYPE_TAGS = {"float": "f", "int": "i", "bool": "T", "trigger": "I"}
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LISTEN_RATE = 30.0
MAX_SOCKETS = 32
MAX_WS_FRAME = 1 << 16


def namespace(registry, values) -> dict:
    """The OSCQuery tree of every parameter in `registry` with `values` (key -> float)."""
    root: dict = {"FULL_PATH": "/", "CONTENTS": {}}
    for param in registry:
        parts = param.address.strip("/").split("/")
        node = root
        for depth, part in enumerate(parts[:-1]):
            contents = node.setdefault("CONTENTS", {})
            node = contents.setdefault(part, {"FULL_PATH": "/" + "/".join(parts[:depth + 1]),
                                              "CONTENTS": {}})
        leaf = {"FULL_PATH": param.address, "TYPE": TYPE_TAGS[param.kind],
                "DESCRIPTION": param.description,
                "ACCESS": 1 if param.readonly else 2 if param.kind == "trigger" else 3}
        if param.kind != "trigger":
            value = values.get(param.key, param.default)
            leaf["VALUE"] = [bool(value >= 0.5) if param.kind == "bool"
                             else osc_value(param, value)]
            leaf["RANGE"] = [{"MIN": param.min, "MAX": param.max}] if param.kind != "bool" \
                else [{"VALS": [False, True]}]
        node.setdefault("CONTENTS", {})[parts[-1]] = leaf
    return root


def find_node(tree: dict, path: str) -> dict | None:
    node = tree
    for part in [p for p in path.split("/") if p]:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node


class OscQueryServer:
    """Serves OSCQuery for one show (see the module docstring). `start` binds the port (OSError
    when taken) and returns at once; zeroconf registers on a thread of its own."""

    def __init__(self, link, host: str, port: int, osc_port: int,
                 log: Callable[[str, str], None], name: str = "liveGAN",
                 advertise: bool = True) -> None:
        self.link, self.host, self.requested_port = link, host, port
        self.osc_port, self.log, self.name, self.advertise = osc_port, log, name, advertise
        self.port = 0
        self._http: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._zeroconf = None
        self._services: list = []
        self._stopping = threading.Event()
        self._sockets = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            owner = server

        self._http = ThreadingHTTPServer((self.host, self.requested_port), Handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        thread = threading.Thread(target=self._http.serve_forever, name="liveGAN-oscquery",
                                  daemon=True)
        thread.start()
        self._threads.append(thread)
        if self.advertise:
            thread = threading.Thread(target=self._register, name="liveGAN-zeroconf",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        self.link.say(f"OSCQuery on http://{self.host}:{self.port}/")

    def stop(self) -> None:
        self._stopping.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        for thread in self._threads:
            thread.join(5.0)
        self._threads.clear()
        zc, self._zeroconf = self._zeroconf, None
        if zc is not None:
            try:
                zc.unregister_all_services()
                zc.close()
            except Exception:  # noqa: BLE001 - leaving the network quietly
                pass

    def host_info(self) -> dict:
        return {"NAME": self.name, "OSC_IP": self._address(), "OSC_PORT": self.osc_port,
                "OSC_TRANSPORT": "UDP", "WS_IP": self._address(), "WS_PORT": self.port,
                "EXTENSIONS": {"ACCESS": True, "VALUE": True, "RANGE": True, "TYPE": True,
                               "DESCRIPTION": True, "LISTEN": True, "PATH_CHANGED": False,
                               "CLIPMODE": False}}

    def _address(self) -> str:
        if self.host in ("0.0.0.0", ""):
            try:
                return socket.gethostbyname(socket.gethostname())
            except OSError:
                return "127.0.0.1"
        return self.host

    def tree(self) -> dict:
        return namespace(self.link.registry(), self.link.snapshot().values)

    def _register(self) -> None:
        try:
            from zeroconf import IPVersion, ServiceInfo, Zeroconf

            address = self._address()
            zc = Zeroconf(ip_version=IPVersion.V4Only)
            self._zeroconf = zc
            for kind, port in (("_oscjson._tcp.local.", self.port),
                               ("_osc._udp.local.", self.osc_port)):
                info = ServiceInfo(kind, f"{self.name}-{self.osc_port}.{kind}", port=port,
                                   addresses=[socket.inet_aton(address)],
                                   properties={"txtvers": "1"},
                                   server=f"{self.name.lower()}-{self.osc_port}.local.")
                if self._stopping.is_set():
                    return
                zc.register_service(info, allow_name_change=True)
                self._services.append(info)
        except Exception as err:  # noqa: BLE001 - found by address even without zeroconf
            self.log("zeroconf", f"OSCQuery: not advertised with zeroconf ({type(err).__name__}:"
                                 f" {err}); clients can still use http://{self.host}:{self.port}/")

    def _claim_socket(self) -> bool:
        with self._lock:
            if self._sockets >= MAX_SOCKETS:
                return False
            self._sockets += 1
            return True

    def _release_socket(self) -> None:
        with self._lock:
            self._sockets -= 1


class _Handler(BaseHTTPRequestHandler):
    owner: OscQueryServer
    protocol_version = "HTTP/1.1"
    server_version = "liveGAN-OSCQuery"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's name
        pass  # the show's terminal is for the performer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
            return
        url = urllib.parse.urlparse(self.path)
        query = url.query.split("&")[0] if url.query else ""
        if query and query.upper() not in ATTRIBUTES:
            self._reply(400, {"error": f"unknown attribute {query[:40]!r}"})
            return
        owner = self.owner
        if query.upper() == "HOST_INFO":
            self._reply(200, owner.host_info())
            return
        node = find_node(owner.tree(), urllib.parse.unquote(url.path))
        if node is None:
            self._reply(404, {"error": f"no node at {url.path[:200]}"})
            return
        if query:
            attribute = query.upper()
            if attribute not in node:
                self._reply(204, None)
                return
            node = {attribute: node[attribute]}
        self._reply(200, node)

    def _reply(self, code: int, body) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- WebSocket (RFC 6455): LISTEN / IGNORE in, binary OSC out --------------------------------

    def _websocket(self) -> None:
        owner = self.owner
        key = self.headers.get("Sec-WebSocket-Key", "")
        if not key or not owner._claim_socket():
            self._reply(400 if not key else 503, {"error": "no WebSocket key" if not key
                                                  else "too many WebSocket clients"})
            return
        try:
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            self.wfile.flush()
            self._listen_loop()
        finally:
            owner._release_socket()
            self.close_connection = True

    def _listen_loop(self) -> None:
        owner, sock = self.owner, self.connection
        sock.settimeout(1.0 / LISTEN_RATE)
        listening: dict[str, float | None] = {}
        reader = _FrameReader(sock)
        while not owner._stopping.is_set():
            try:
                for opcode, payload in reader.frames():
                    if opcode == 0x8:
                        self._send_frame(0x8, b"")
                        return
                    if opcode == 0x9:
                        self._send_frame(0xA, payload)
                    elif opcode == 0x1:
                        self._command(payload, listening)
            except (ConnectionError, OSError, ValueError):
                return
            if reader.closed:
                return
            if listening:
                if not self._send_changes(listening):
                    return

    def _command(self, payload: bytes, listening: dict) -> None:
        try:
            command = json.loads(payload.decode("utf-8"))
            what, path = command["COMMAND"], command["DATA"]
        except (ValueError, KeyError, TypeError):
            return  # not a command this server knows: ignored, as the protocol says
        if not isinstance(path, str):
            return
        if what == "LISTEN" and len(listening) < 4096:
            listening[path] = None
        elif what == "IGNORE":
            listening.pop(path, None)

    def _send_changes(self, listening: dict) -> bool:
        owner = self.owner
        registry, values = owner.link.registry(), owner.link.snapshot().values
        by_address = {p.address: p for p in registry}
        for path, sent in list(listening.items()):
            param = by_address.get(path)
            if param is None or param.kind == "trigger":
                continue
            value = values.get(param.key)
            if value is None or value == sent:
                continue
            listening[path] = value
            try:
                self._send_frame(0x2, message(path, osc_value(param, value)))
            except OSError:
                return False
        return True

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        head = bytes([0x80 | opcode])
        size = len(payload)
        if size < 126:
            head += bytes([size])
        elif size < 1 << 16:
            head += bytes([126]) + struct.pack(">H", size)
        else:
            head += bytes([127]) + struct.pack(">Q", size)
        self.connection.sendall(head + payload)


class _FrameReader:
    """Client frames from a WebSocket (masked, as RFC 6455 requires); fragments are joined."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.closed = False
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0

    def frames(self) -> list[tuple[int, bytes]]:
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            data = None
        if data == b"":
            self.closed = True
            return []
        if data:
            self.buffer += data
            if len(self.buffer) > 4 * MAX_WS_FRAME:
                raise ValueError("WebSocket client sends too much")
        out = []
        while True:
            frame = self._one()
            if frame is None:
                return out
            out.append(frame)

    def _one(self) -> tuple[int, bytes] | None:
        buf = self.buffer
        if len(buf) < 2:
            return None
        fin, opcode = buf[0] & 0x80, buf[0] & 0x0F
        masked, size = buf[1] & 0x80, buf[1] & 0x7F
        index = 2
        if size == 126:
            if len(buf) < 4:
                return None
            size, index = struct.unpack(">H", buf[2:4])[0], 4
        elif size == 127:
            if len(buf) < 10:
                return None
            size, index = struct.unpack(">Q", buf[2:10])[0], 10
        if size > MAX_WS_FRAME:
            raise ValueError("WebSocket frame too large")
        mask = b""
        if masked:
            mask, index = buf[index:index + 4], index + 4
        if len(buf) < index + size:
            return None
        payload = buf[index:index + size]
        self.buffer = buf[index + size:]
        if masked:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if opcode == 0x0:               # a continuation
            self._fragments.append(payload)
            if not fin:
                return self._one()
            payload, opcode = b"".join(self._fragments), self._fragment_opcode
            self._fragments = []
        elif not fin:
            self._fragments, self._fragment_opcode = [payload], opcode
            return self._one()
        return opcode, payload

