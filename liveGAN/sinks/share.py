"""Texture sharing with other programs on the same machine: Syphon (macOS) and Spout (Windows).

Place in the data flow: the show's view -> shared readback -> **syphon / spout sink** -> Resolume,
MadMapper, TouchDesigner, OBS on the same computer.

UNTESTED HERE: liveGAN is developed and tested on Linux, where neither exists. Both sinks are
written against the published examples of their Python packages (syphon-python's
`SyphonMetalServer` with a Metal texture filled from numpy; SpoutGL's `SpoutSender.sendImage`)
and send CPU pixels from the shared readback, the simplest path that needs no sharing of GL
contexts. Where the package or the platform is missing, the output says so in one line.
"""
from __future__ import annotations

import sys
import threading
from typing import Callable

import numpy as np

from liveGAN.plugins import PluginError
from liveGAN.sinks.handoff import LatestFrame

GL_RGBA = 0x1908   # OpenGL's enum, so SpoutGL needs no PyOpenGL here


class SharingUnavailable(PluginError):
    """The texture-sharing framework isn't here; the message is the one line the show says."""


def _import(module: str, platform: str, package: str):
    if not sys.platform.startswith(platform):
        system = "macOS" if platform == "darwin" else "Windows"
        raise SharingUnavailable(f"{module} runs on {system} only")
    try:
        return __import__(module)
    except ImportError:
        raise SharingUnavailable(f"{module} is not installed (pip install {package})") from None


def sharing_status() -> str:
    """One line: which of Syphon and Spout can be used here."""
    parts = []
    for kind, module, platform, package in (("syphon", "syphon", "darwin", "syphon-python"),
                                            ("spout", "SpoutGL", "win", "SpoutGL")):
        try:
            _import(module, platform, package)
            parts.append(f"{kind}: available (untested by liveGAN)")
        except SharingUnavailable as err:
            parts.append(f"{kind}: {err}")
    return "; ".join(parts)


class _SharingSink:
    """What both sinks share: options, a sender thread fed newest-wins with RGBA pixels."""

    wants_pixels = True
    kind = ""

    def __init__(self, options: dict) -> None:
        options = dict(options)
        self.name = options.pop("name", "liveGAN")
        if options:
            raise PluginError(f"{self.kind}: unknown option(s) {', '.join(sorted(options))} "
                              "(known: name)")
        if not isinstance(self.name, str) or not self.name:
            raise PluginError(f"{self.kind}: name must be a non-empty string")
        self._log: Callable[[str], None] = print
        self._mailbox: LatestFrame | None = None
        self._thread: threading.Thread | None = None

    def connect(self, link) -> None:
        self._log = link.say

    def open(self, size: tuple[int, int], fps: float) -> None:
        width, height = size
        self._start_server(width, height)
        self._rgba = np.full((height, width, 4), 255, np.uint8)
        self._mailbox = LatestFrame((height, width, 3))
        self._thread = threading.Thread(target=self._run, name=self.kind, daemon=True)
        self._thread.start()
        self._log(f"{self.kind}: sharing as {self.name!r}")

    def send(self, frame) -> None:
        self._mailbox.put(frame.pixels(), frame.time)

    def _run(self) -> None:
        mailbox = self._mailbox
        while not mailbox.closed:
            job = mailbox.take(0.5)
            if job is None:
                continue
            buffer, _ = job
            self._rgba[..., :3] = buffer
            mailbox.done(buffer)
            try:
                self._publish(self._rgba)
            except Exception as err:  # noqa: BLE001
                self._log(f"{self.kind} stopped: {type(err).__name__}: {err}")
                mailbox.close()

    def close(self) -> None:
        if self._thread is not None:
            self._mailbox.close()
            self._thread.join(5)
            self._thread = None
        self._stop_server()

    def _start_server(self, width: int, height: int) -> None:
        raise NotImplementedError

    def _publish(self, rgba: np.ndarray) -> None:
        raise NotImplementedError

    def _stop_server(self) -> None:
        raise NotImplementedError


class SyphonSink(_SharingSink):
    """Shares the output through Syphon on macOS (`[[outputs]] kind = "syphon"`; untested here).

    Options: `name` (the server's name, default "liveGAN"). Needs `pip install syphon-python`.
    """

    kind = "syphon"

    def _start_server(self, width: int, height: int) -> None:
        syphon = _import("syphon", "darwin", "syphon-python")
        from syphon.utils.raw import create_mtl_texture

        self._server = syphon.SyphonMetalServer(self.name)
        self._texture = create_mtl_texture(self._server.device, width, height)

    def _publish(self, rgba: np.ndarray) -> None:
        from syphon.utils.numpy import copy_image_to_mtl_texture

        copy_image_to_mtl_texture(rgba, self._texture)
        self._server.publish_frame_texture(self._texture)

    def _stop_server(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.stop()
            self._server = None


class SpoutSink(_SharingSink):
    """Shares the output through Spout on Windows (`[[outputs]] kind = "spout"`; untested here).

    Options: `name` (the sender's name, default "liveGAN"). Needs `pip install SpoutGL`.
    """

    kind = "spout"

    def _start_server(self, width: int, height: int) -> None:
        spout = _import("SpoutGL", "win", "SpoutGL")
        self._sender = spout.SpoutSender()
        self._sender.setSenderName(self.name)
        self._size = (width, height)

    def _publish(self, rgba: np.ndarray) -> None:
        width, height = self._size
        if not self._sender.sendImage(rgba, width, height, GL_RGBA, False, 0):
            raise RuntimeError("SpoutGL did not take the frame")

    def _stop_server(self) -> None:
        sender = getattr(self, "_sender", None)
        if sender is not None:
            sender.releaseSender()
            self._sender = None
