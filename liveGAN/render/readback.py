"""Reading finished frames back from GL without stalling the show.

Place in the data flow: shader chain output -> **readback** -> CPU pixels for the sinks that
want them (the recorder, NDI, a virtual camera). The show reads each frame back at most once,
asynchronously, and shares the pixels among those sinks.
"""
from __future__ import annotations

import numpy as np


class FrameGrabber:
    """Reads finished frames back from GL without stalling the show.

    `glReadPixels` into client memory waits for the GPU to finish the frame. Here each frame is
    read into one of two pixel buffers on the GPU side, and the pixels of the frame before are
    fetched from the other one: the recording lags the show by one frame, and nothing waits.

        pixels = grabber.grab(framebuffer)   # the previous frame, or None on the first call
        ...
        pixels = grabber.last()              # the final frame, at the end of the show

    The returned array is top row first and is reused on the next call (copy it to keep it;
    `Recorder.write` copies anyway). `rows_top_first` is the framebuffer's orientation: True
    (the project's convention, see render/upload.py) when its row 0 holds the picture's top
    row, False for a framebuffer drawn the plain-GL way (row 0 at the bottom).
    """

    def __init__(self, ctx, size: tuple[int, int], components: int = 3,
                 rows_top_first: bool = True) -> None:
        width, height = size
        self.rows_top_first = rows_top_first
        self.size = (width, height)
        self.components = components
        frame_bytes = width * height * components
        self._buffers = [ctx.buffer(reserve=frame_bytes) for _ in range(2)]
        self._pixels = np.empty((height, width, components), np.uint8)
        self._pending = 0  # how many of the buffers hold a frame not fetched yet
        self._next = 0

    def grab(self, framebuffer) -> np.ndarray | None:
        """Start reading `framebuffer`; return the frame started on the previous call."""
        previous = self._fetch_previous() if self._pending else None
        framebuffer.read_into(self._buffers[self._next], viewport=(0, 0, *self.size),
                              components=self.components, alignment=1)
        self._next ^= 1
        self._pending = 1
        return previous

    def last(self) -> np.ndarray | None:
        """The frame started on the last `grab` (fetched now, waiting for the GPU once)."""
        if not self._pending:
            return None
        self._pending = 0
        return self._fetch_previous()

    def _fetch_previous(self) -> np.ndarray:
        self._buffers[self._next ^ 1].read_into(self._pixels)
        if self.rows_top_first:
            return self._pixels
        return self._pixels[::-1]  # a reversed view: no copy

    def release(self) -> None:
        """Free the GPU-side buffers."""
        for buffer in self._buffers:
            buffer.release()
