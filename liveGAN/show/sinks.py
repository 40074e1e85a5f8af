"""The show's sinks: opened from the patch's `[[outputs]]`, handed every presented frame.

Place in the data flow: the view's output framebuffer -> **sinks** -> window(s), recorder,
other programs. Sinks that need only the GL texture (a window) get the frame at once. Sinks that
need CPU pixels share one asynchronous readback per frame: frame N is read into a GPU-side
buffer while the show goes on, and its pixels reach those sinks with frame N+1 (the last frame
is flushed at the end). A sink that fails says so once and is dropped; the show and the other
sinks go on.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from liveGAN.params import Param
from liveGAN.patch import Patch, PluginSpec, Problem
from liveGAN.plugins import SINK_GROUP, PluginError, create


def sink_params(patch: Patch) -> tuple[list[Param], list[Problem]]:
    """The settable params the patch's outputs declare (a projector's keystone), and a problem
    for each output that is not installed or refuses its options (nothing is opened)."""
    params: list[Param] = []
    problems: list[Problem] = []
    for spec in patch.outputs:
        try:
            params.extend(_declared(create(SINK_GROUP, spec.kind, spec.options)))
        except PluginError as err:
            problems.append(Problem(str(patch.path), spec.where, str(err),
                                    "an installed output kind with valid options"))
    return params, problems


def _declared(sink: Any) -> list[Param]:
    """A sink's optional `params()`: settable Params whose values it reads from the show's
    snapshot (`link.snapshot().values`)."""
    params = list(sink.params()) if hasattr(sink, "params") else []
    for param in params:
        if not isinstance(param, Param) or param.readonly:
            raise PluginError(f"{type(sink).__name__}.params() must return settable "
                              f"liveGAN.params.Param objects, got {param!r}")
    return params


class OutputFrame:
    """One presented frame as a sink sees it.

    `texture` is the GL texture (plain GL orientation: row 0 at the bottom; None for a frame
    whose pixels were read back, one frame late), `pixels()` is HxWx3 uint8, top row first,
    valid during `send` only (copy it to keep it). `realtime` is False in offline renders,
    where a sink should rather wait than drop a frame.
    """

    __slots__ = ("index", "time", "texture", "size", "realtime", "_pixels", "_read")

    def __init__(self, index: int, time: float, size: tuple[int, int], realtime: bool,
                 texture=None, pixels: np.ndarray | None = None,
                 read: Callable[[], np.ndarray] | None = None) -> None:
        self.index, self.time, self.size, self.realtime = index, time, size, realtime
        self.texture = texture
        self._pixels, self._read = pixels, read

    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            # A texture-only sink that asks for pixels anyway: read them now, once.
            self._pixels = self._read()
        return self._pixels


class SinkSet:
    """The open sinks and the one readback they share."""

    def __init__(self, link, log: Callable[[str, str], None], say: Callable[[str], None]
                 ) -> None:
        self._link = link
        self._log = log
        self._say = say
        self._sinks: list[tuple[str, Any]] = []
        self._grabber = None
        self._framebuffer = None
        self._pending: tuple[int, float] | None = None
        self.size = (0, 0)
        self.realtime = True

    # -- opening ---------------------------------------------------------------------------

    def open(self, specs: list[PluginSpec], size: tuple[int, int], fps: float,
             realtime: bool) -> None:
        """Create and open a sink for each spec; one that refuses is reported and left out."""
        self.size, self.realtime = size, realtime
        for spec in specs:
            try:
                sink = create(SINK_GROUP, spec.kind, spec.options)
                if hasattr(sink, "connect"):
                    sink.connect(self._link)
                sink.open(size, fps)
            except Exception as err:  # noqa: BLE001 - the show plays without this output
                message = str(err) if isinstance(err, PluginError) else \
                    f"{type(err).__name__}: {err}"
                self._say(f"output {spec.where} ({spec.kind}) is off: {message}")
                continue
            self._sinks.append((spec.kind, sink))

    def gl_context(self):
        """The OpenGL context of the first sink that opened one (a window), or None."""
        for _, sink in self._sinks:
            ctx = getattr(sink, "gl_context", None)
            if ctx is not None:
                return ctx
        return None

    def sources(self) -> list[tuple[str, Any]]:
        """Sources that come with open sinks (a window's keyboard)."""
        found = []
        for kind, sink in self._sinks:
            if hasattr(sink, "sources"):
                found += [(kind, source) for source in sink.sources()]
        return found

    def attach(self, ctx) -> None:
        """Prepare the shared readback on the show's GL context (only if a sink wants pixels)."""
        if any(getattr(sink, "wants_pixels", True) for _, sink in self._sinks):
            from liveGAN.render.readback import FrameGrabber

            self._grabber = FrameGrabber(ctx, self.size, rows_top_first=False)

    @property
    def count(self) -> int:
        return len(self._sinks)

    def recordings(self) -> list:
        """Where the open sinks that record to a file write (a sink's `recording` attribute,
        a Path): the show's performance log goes beside the first."""
        found = [getattr(sink, "recording", None) for _, sink in self._sinks]
        return [path for path in found if path is not None]

    def params(self) -> list[Param]:
        """The settable params of the open sinks (for the show's registry)."""
        params: list[Param] = []
        for kind, sink in self._sinks:
            try:
                params.extend(_declared(sink))
            except Exception as err:  # noqa: BLE001 - the output plays on without its params
                self._log("sink params", f"output {kind}: {err}")
        return params

    # -- every frame -----------------------------------------------------------------------

    def send(self, framebuffer, index: int, time: float) -> None:
        """Hand frame `index` (the chain's output `framebuffer`) to every sink."""
        self._framebuffer = framebuffer
        previous = None
        if self._grabber is not None:
            # Start this frame's readback first, so it runs while the window presents.
            previous = self._grabber.grab(framebuffer)
        texture = framebuffer.color_attachments[0]
        now = OutputFrame(index, time, self.size, self.realtime, texture=texture,
                          read=self._read_now)
        for kind, sink in list(self._sinks):
            if not getattr(sink, "wants_pixels", True):
                self._send(kind, sink, now)
        if previous is not None and self._pending is not None:
            self._send_pixels(previous, *self._pending)
        self._pending = (index, time)

    def _send_pixels(self, pixels: np.ndarray, index: int, time: float) -> None:
        frame = OutputFrame(index, time, self.size, self.realtime, pixels=pixels)
        for kind, sink in list(self._sinks):
            if getattr(sink, "wants_pixels", True):
                self._send(kind, sink, frame)

    def _send(self, kind: str, sink: Any, frame: OutputFrame) -> None:
        try:
            sink.send(frame)
        except Exception as err:  # noqa: BLE001 - one output failing is not the show failing
            self._say(f"output {kind} failed and is off: {type(err).__name__}: {err}")
            self._drop(kind, sink)

    def _drop(self, kind: str, sink: Any) -> None:
        self._sinks = [(k, s) for k, s in self._sinks if s is not sink]
        try:
            sink.close()
        except Exception as err:  # noqa: BLE001
            self._log("sink close", f"output {kind} did not close cleanly: {err}")

    def _read_now(self) -> np.ndarray:
        width, height = self.size
        data = self._framebuffer.read(components=3)
        return np.frombuffer(data, np.uint8).reshape(height, width, 3)[::-1]

    # -- the end ---------------------------------------------------------------------------

    def close(self) -> None:
        """Flush the last frame's pixels, then close every sink (each on its own; a sink
        that owns the GL context closes last, after the readback's buffers are freed)."""
        if self._grabber is not None and self._pending is not None:
            try:
                last = self._grabber.last()
                if last is not None:
                    self._send_pixels(last, *self._pending)
            except Exception as err:  # noqa: BLE001 - closing must still happen
                self._log("sink flush", f"the last frame could not be read back: {err}")
        self._pending = None
        if self._grabber is not None:
            self._grabber.release()
            self._grabber = None
        ordered = sorted(self._sinks, key=lambda ks: getattr(ks[1], "gl_context", None) is not None)
        for kind, sink in ordered:
            try:
                sink.close()
            except Exception as err:  # noqa: BLE001
                self._say(f"output {kind} did not close cleanly: {type(err).__name__}: {err}")
        self._sinks = []
