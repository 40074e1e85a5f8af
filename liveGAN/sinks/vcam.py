"""Virtual camera out: the show as a webcam for OBS, Zoom, a browser (pyvirtualcam: v4l2loopback
on Linux, the OBS virtual camera on Windows and macOS).

Place in the data flow: the show's view -> shared readback -> **vcam sink** -> a camera device.
The show's thread copies the pixels; a sender thread hands them to the camera (newest wins).

On Linux the camera is a v4l2loopback device, a kernel module that only an administrator can
load (`sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=liveGAN`). Where it is
not loaded the output says so in one line and the show goes on; `livegan devices` says the same.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Callable

from liveGAN.plugins import PluginError
from liveGAN.sinks.handoff import LatestFrame

MODPROBE = "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=liveGAN"


class CameraUnavailable(PluginError):
    """No virtual camera can be opened here; the message is the one line the show says."""


def loopback_devices() -> list[dict]:
    """The v4l2loopback devices (Linux): path and card name."""
    found = []
    for folder in sorted(Path("/sys/devices/virtual/video4linux").glob("video*")):
        try:
            name = (folder / "name").read_text().strip()
        except OSError:
            name = ""
        found.append({"device": f"/dev/{folder.name}", "name": name})
    return found


def camera_problem() -> str | None:
    """Why a virtual camera can't be opened here, or None when it probably can."""
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        return "pyvirtualcam is not installed (pip install 'livegan[vcam]')"
    if sys.platform.startswith("linux"):
        if not Path("/sys/module/v4l2loopback").exists():
            return f"the v4l2loopback kernel module is not loaded ({MODPROBE})"
        if not loopback_devices():
            return f"v4l2loopback is loaded but has no device ({MODPROBE})"
    return None


def camera_status() -> tuple[list[dict], str]:
    """For `livegan devices`: the loopback cameras, and a note (why none can be used, and
    which texture-sharing outputs, Syphon or Spout, are installed)."""
    from liveGAN.sinks.share import sharing_status

    problem = camera_problem()
    items = loopback_devices() if sys.platform.startswith("linux") else []
    notes = [problem] if problem else []
    notes.append(sharing_status())
    return items, "; ".join(notes)


class VirtualCameraSink:
    """Shows the output as a virtual camera (`[[outputs]] kind = "vcam"`).

    Options: `device` (Linux: the loopback device, e.g. "/dev/video10"; default the first),
    `backend` (pyvirtualcam's: "v4l2loopback", "obs", "unitycapture"; default its own choice).
    Needs `pip install 'livegan[vcam]'` and, on Linux, the v4l2loopback kernel module.
    """

    wants_pixels = True

    def __init__(self, options: dict) -> None:
        options = dict(options)
        self.device = options.pop("device", None)
        self.backend = options.pop("backend", None)
        if options:
            raise PluginError(f"vcam: unknown option(s) {', '.join(sorted(options))} "
                              "(known: device, backend)")
        for name in ("device", "backend"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise PluginError(f"vcam: {name} must be a non-empty string")
        self._log: Callable[[str], None] = print
        self._camera = None
        self._mailbox: LatestFrame | None = None
        self._thread: threading.Thread | None = None
        self.frames_sent = 0

    def connect(self, link) -> None:
        self._log = link.say

    def open(self, size: tuple[int, int], fps: float) -> None:
        problem = camera_problem()
        if problem and not (self.device and os.path.exists(self.device)):
            raise CameraUnavailable(f"no virtual camera: {problem}")
        import pyvirtualcam

        width, height = size
        try:
            self._camera = pyvirtualcam.Camera(width, height, fps, device=self.device,
                                               backend=self.backend,
                                               fmt=pyvirtualcam.PixelFormat.RGB)
        except Exception as err:  # noqa: BLE001 - pyvirtualcam raises RuntimeError and more
            raise CameraUnavailable(f"no virtual camera: {err}") from None
        self._mailbox = LatestFrame((height, width, 3))
        self._thread = threading.Thread(target=self._run, name="virtual camera", daemon=True)
        self._thread.start()
        self._log(f"virtual camera: sending to {self._camera.device}")

    def send(self, frame) -> None:
        self._mailbox.put(frame.pixels(), frame.time)

    def _run(self) -> None:
        mailbox = self._mailbox
        while not mailbox.closed:
            job = mailbox.take(0.5)
            if job is None:
                continue
            buffer, _ = job
            try:
                self._camera.send(buffer)
                self.frames_sent += 1
            except Exception as err:  # noqa: BLE001 - the device went away: say it, stop
                self._log(f"virtual camera stopped: {type(err).__name__}: {err}")
                mailbox.close()
            finally:
                mailbox.done(buffer)

    def close(self) -> None:
        if self._thread is not None:
            self._mailbox.close()
            self._thread.join(5)
            self._thread = None
        if self._camera is not None:
            self._camera.close()
            self._camera = None
