"""Generator frames: latent requests in, finished pictures out, live or offline.

Place in the data flow: the show's update (latent) -> **frames** -> newest picture -> the view.
Live, the `GeneratorWorker` runs on its own thread: the show posts a request every frame and never
waits; the worker always takes the newest request, runs mapping + synthesis, and publishes the
newest frame, so a generator slower than the display lowers the generator frame rate, never the
display's (`LiveFrames`, which also says how far to blend the last two frames). Offline, every
displayed frame is generated in turn on the show's thread (`OfflineFrames`), so a render is
deterministic. The show picks one of the two at start; nothing else differs.

A control must not wait behind a frame that no longer matters: a request marked urgent (it
carries a control that just arrived) makes the worker abandon the frame in hand at its next
layer (`check`, called between the network's layers, raises `Superseded`) and start the new one
at once. Abandoned work is bounded: at most `WASTE_BUDGET_S` in any `WASTE_WINDOW_S` of
generator time (a fader moved without pause would otherwise keep every frame from finishing),
so the generator's frame rate never drops by much more than that share.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


# At most this much generator time per WASTE_WINDOW_S may go to frames abandoned for newer ones.
WASTE_BUDGET_S = 0.1
WASTE_WINDOW_S = 1.0


class Superseded(Exception):
    """Raised between a network's layers: a newer request took the place of this frame."""


@dataclass
class Request:
    """What the frame loop wants generated: a latent and the control values at that moment."""

    z: np.ndarray
    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None
    values: dict[str, float] = field(default_factory=dict)
    noise_mode: str = "const"
    seq: int = 0
    time: float | None = None   # show seconds (a model crossfade follows it, so renders repeat)


@dataclass
class Frame:
    """A finished generator frame: RGBA8 pixels, top row first (numpy on CPU, tensor on GPU)."""

    pixels: Any
    seq: int
    done_at: float
    gen_ms: float


class GeneratorWorker:
    """Runs `generate(request) -> pixels` on a daemon thread, newest request wins.

    `generate` is normally `FrameMaker(runtime, controls)`; tests and benchmarks may pass any
    callable. Errors in generation are reported once per kind and the last good frame stays up.
    """

    def __init__(self, generate: Callable[[Request], Any], log: Callable[[str, str], None],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._generate = generate
        self._log = log
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._request: Request | None = None
        self._frame: Frame | None = None
        self._running = False
        self._thread: threading.Thread | None = None
        self._started: float | None = None  # when the frame in hand began (None: idle)
        self._superseded = False
        self._waste: deque[tuple[float, float]] = deque()  # (when, seconds) of abandoned work
        self.frames_made = 0
        self.frames_superseded = 0
        self.gen_times: list[float] = []

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="liveGAN-generator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def submit(self, request: Request, urgent: bool = False) -> None:
        """Hand over the newest request; an older one not yet started is simply replaced.
        `urgent` (a control just arrived): the frame in hand is abandoned too, within the
        waste budget."""
        with self._lock:
            self._request = request
            if urgent and self._started is not None and not self._superseded:
                now = self._clock()
                while self._waste and self._waste[0][0] < now - WASTE_WINDOW_S:
                    self._waste.popleft()
                spent = sum(seconds for _, seconds in self._waste)
                if spent + (now - self._started) <= WASTE_BUDGET_S:
                    self._superseded = True
        self._wake.set()

    def check(self) -> None:
        """Between the generator's layers (on its thread): raise Superseded when the frame in
        hand has been replaced. Other threads running the same network are never stopped."""
        if self._superseded and threading.current_thread() is self._thread:
            raise Superseded()

    def latest(self) -> Frame | None:
        """The newest finished frame (or None before the first)."""
        with self._lock:
            return self._frame

    def set_generate(self, generate: Callable[[Request], Any]) -> None:
        """Swap in a new model's frame maker; takes effect at the next frame."""
        with self._lock:
            self._generate = generate

    def _loop(self) -> None:
        while self._running:
            try:
                self._one()
            except Exception as err:  # noqa: BLE001 - the worker must outlive any failure
                self._log("generator", f"generator worker: {type(err).__name__}: {err}; "
                                       "keeping the last good frame")
                time.sleep(0.05)

    def _one(self) -> None:
        self._wake.wait(0.1)
        with self._lock:
            request, generate = self._request, self._generate
            self._request = None
            self._wake.clear()
        if request is None or not self._running:
            return
        started = self._clock()
        with self._lock:
            self._started, self._superseded = started, False
        try:
            pixels = generate(request)
        except Superseded:
            now = self._clock()
            with self._lock:
                self._started = None
                self._waste.append((now, now - started))
            self.frames_superseded += 1
            return
        except Exception as err:  # a bad model or input must not end the show
            with self._lock:
                self._started = None
            self._log("generator", f"generator failed: {type(err).__name__}: {err}; "
                                   "keeping the last good frame")
            return
        done = self._clock()
        frame = Frame(pixels, request.seq, done, 1000.0 * (done - started))
        with self._lock:
            self._frame = frame
            self._started = None
        self.frames_made += 1
        self.gen_times.append(done - started)
        if len(self.gen_times) > 10_000:
            del self.gen_times[:5_000]


class FrameMaker:
    """One frame from one request with a loaded model: controls, mapping, synthesis, RGBA8."""

    def __init__(self, runtime, controls) -> None:
        import torch

        self._torch = torch
        self.runtime = runtime
        self.controls = controls
        self.on_cpu = runtime.device.type == "cpu"

    def interrupt_with(self, check: Callable[[], None] | None) -> bool:
        """Let `check` stop a frame between the network's layers (where the runtime can)."""
        install = getattr(self.runtime, "interrupt_with", None)
        return bool(install(check)) if install is not None else False

    def __call__(self, request: Request):
        torch = self._torch
        rt = self.runtime
        with torch.inference_mode():
            self.controls.apply(request.values)
            labels = self.controls.labels(request.values, rt.device)
            z = torch.from_numpy(np.ascontiguousarray(request.z, dtype=np.float32))
            z = z.reshape(1, -1).to(rt.device)
            cutoff = request.truncation_cutoff or None
            ws = rt.mapping(z, labels, truncation_psi=request.truncation_psi,
                            truncation_cutoff=cutoff)
            edit = getattr(self.controls, "edit_ws", None)
            if edit is not None:
                # Directions, style mixing: W+ edits between mapping and synthesis.
                ws = edit(ws, request.values)
            img = rt.synthesis(ws, noise_mode=request.noise_mode)
            rgba = rt.to_rgba8(img)
            # On the CPU, hand numpy to the render thread so its upload is a plain memcpy;
            # on a GPU the tensor stays on the device for the CUDA-GL interop copy.
            return rgba.numpy().copy() if self.on_cpu else rgba


class LiveFrames:
    """Frames from a worker thread; the display never waits for the generator."""

    live = True

    def __init__(self, make: Callable[[Request], Any], log: Callable[[str, str], None]) -> None:
        self.worker = GeneratorWorker(make, log)
        self._wire(make)
        self.worker.start()
        self._arrivals = (0.0, 0.0)
        self._interval = 0.0
        self._seen = -1
        self._submitted: Request | None = None

    def _wire(self, make) -> None:
        """A maker that can stop between layers gets the worker's check."""
        hook = getattr(make, "interrupt_with", None)
        if hook is not None:
            hook(self.worker.check)

    def submit(self, request: Request, urgent: bool = False) -> None:
        """Hand a request to the generator as soon as it is made (see GeneratorWorker)."""
        self._submitted = request
        self.worker.submit(request, urgent)

    def request(self, request: Request) -> Frame | None:
        """Hand over this frame's request (unless `submit` already did); the newest finished
        frame (None before the first)."""
        if request is not self._submitted:
            self.submit(request)
        frame = self.worker.latest()
        if frame is not None and frame.seq != self._seen:
            if self._seen >= 0:
                step = frame.done_at - self._arrivals[1]
                self._interval = step if self._interval == 0 else \
                    0.8 * self._interval + 0.2 * step
            self._arrivals = (self._arrivals[1], frame.done_at)
            self._seen = frame.seq
        return frame

    def mix(self, now: float) -> float:
        """How far from the older to the newer of the last two frames to show: the display
        crossfades while the next generator frame is on its way."""
        if self._interval <= 0:
            return 1.0
        return min(max((now - self._arrivals[1]) / self._interval, 0.0), 1.0)

    def set_make(self, make: Callable[[Request], Any]) -> None:
        self._wire(make)
        self.worker.set_generate(make)

    @property
    def frames_made(self) -> int:
        return self.worker.frames_made

    @property
    def frames_superseded(self) -> int:
        return self.worker.frames_superseded

    @property
    def gen_times(self) -> list[float]:
        return self.worker.gen_times

    def stop(self) -> None:
        self.worker.stop()


class OfflineFrames:
    """Every request generated at once, on the caller's thread: renders are deterministic."""

    live = False

    def __init__(self, make: Callable[[Request], Any], clock: Callable[[], float] = time.perf_counter
                 ) -> None:
        self._make = make
        self._clock = clock
        self.frames_made = 0
        self.gen_times: list[float] = []
        self.last_ms = 0.0

    def request(self, request: Request) -> Frame:
        started = self._clock()
        pixels = self._make(request)
        done = self._clock()
        self.last_ms = 1000.0 * (done - started)
        self.frames_made += 1
        self.gen_times.append(done - started)
        if len(self.gen_times) > 10_000:
            del self.gen_times[:5_000]
        return Frame(pixels, request.seq, done, self.last_ms)

    def mix(self, now: float) -> float:
        return 1.0

    def set_make(self, make: Callable[[Request], Any]) -> None:
        self._make = make

    def stop(self) -> None:
        pass
