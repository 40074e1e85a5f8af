"""What the show says once at start: where it renders, where it generates, how fast to expect.

Place in the data flow: set-up -> **preflight** -> the frame loop. Before the loop starts (and
before the generator worker exists) the show makes one generator frame, then times a few more
on a helper thread while its own thread renders a few shader-chain frames at the patch's rate,
so both are timed as they will run: side by side, sharing the machine's cores. The result is a short message naming
the OpenGL renderer (llvmpipe means software rendering on the CPU) and the torch device, the
two costs, and the frame rates they allow; when they fall short it says what to change. The
first generator frame stays uploaded, so the show opens on a picture rather than on black.
"""
from __future__ import annotations

import math
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

# Renderer names of software OpenGL (Mesa's llvmpipe and softpipe, Google's SwiftShader ...).
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software", "swiftshader")
GENERATOR_FRAMES = 4      # timed generator frames after the first (which warms up)
CHAIN_FRAMES = 8          # at least this many chain frames are timed
BUDGET_S = 1.0            # no new generator frame is started after this long
ON_TIME = 0.95            # a rate within 5 % of the patch's counts as keeping up


@dataclass(frozen=True)
class StartReport:
    """Devices and costs measured at start; `lines()` is what the show prints."""

    renderer: str
    generator: str
    generator_ms: float
    chain_ms: float
    fps: float
    output_size: tuple[int, int]
    work_size: int

    @property
    def software_gl(self) -> bool:
        name = self.renderer.lower()
        return any(word in name for word in SOFTWARE_RENDERERS)

    @property
    def display_fps(self) -> float:
        """The rate the shader chain allows, at most the patch's."""
        if not self.chain_ms > 0:
            return self.fps
        return min(self.fps, 1000.0 / self.chain_ms)

    @property
    def generator_fps(self) -> float:
        return 1000.0 / self.generator_ms if self.generator_ms > 0 else math.inf

    def lines(self) -> list[str]:
        """Two to four lines: devices, costs and expectation, and advice when it falls short."""
        gl = "software OpenGL on the CPU" if self.software_gl else "OpenGL"
        width, height = self.output_size
        side = self.work_size
        lines = [
            f"rendering: {self.renderer} ({gl}); generating: {self.generator}",
            f"measured at start: generator {self.generator_ms:.1f} ms/frame "
            f"(~{self.generator_fps:.0f} frames/s), shader chain {self.chain_ms:.1f} ms/frame at "
            f"{width}x{height} (effects at {side}x{side}): expect ~{self.display_fps:.0f} fps "
            f"shown of the patch's {self.fps:g}",
        ]
        if self.display_fps < ON_TIME * self.fps:
            where = "a GPU for OpenGL" if self.software_gl else "a faster GPU"
            lines.append(f"to show {self.fps:g} fps: lower [output] work_size (now {side}), size "
                         f"or fps, use fewer effects, or {where}")
        if self.generator_fps < ON_TIME * min(self.fps, self.display_fps):
            gpu = "a GPU ([model] device = \"cuda\")" if "cpu" in self.generator.lower() \
                else "a faster GPU"
            lines.append(f"the generator makes ~{self.generator_fps:.0f} frames/s and the display "
                         f"blends between them; for more: {gpu}, [model] compile = true, "
                         "or a smaller model")
        return lines


def generator_description(runtime: Any) -> str:
    """The torch device the generator runs on, with threads and precision when known."""
    device = getattr(runtime, "device", None)
    kind = getattr(device, "type", str(device))
    parts: list[str] = []
    if kind == "cuda":
        try:
            import torch

            kind = f"cuda ({torch.cuda.get_device_name(device)})"
        except Exception:  # noqa: BLE001 - the name is a nicety
            pass
    elif kind == "cpu":
        import torch

        threads = torch.get_num_threads()
        parts.append(f"{threads} torch thread{'s' if threads != 1 else ''}")
    precision = getattr(runtime, "precision", None)
    if precision:
        parts.append(str(precision))
    return f"torch {kind}" + (f" ({', '.join(parts)})" if parts else "")


def measure_start(view, make: Callable[[Any], Any], request, clock, fps: float) -> StartReport:
    """Time the generator (`make(request)`) and the view's chain side by side; the first
    generator frame is left uploaded in `view`. Call on the show's thread, before the loop."""
    started = time.perf_counter()
    view.upload(make(request))
    first_s = time.perf_counter() - started
    # The first frame warms the model up and is not timed, unless the model is so slow that
    # timing more would hold the start up: then the first frame is the (pessimistic) figure.
    gen_times: list[float] = [first_s] if first_s > BUDGET_S / 2 else []
    started = time.perf_counter()

    def generate() -> None:
        while len(gen_times) < GENERATOR_FRAMES and (
                not gen_times or time.perf_counter() - started < BUDGET_S):
            begun = time.perf_counter()
            make(request)
            gen_times.append(time.perf_counter() - begun)

    helper = threading.Thread(target=generate, name="liveGAN-preflight", daemon=True)
    if not gen_times:
        helper.start()
    chain_times: list[float] = []
    values = request.values
    period = 1.0 / max(float(fps), 1.0)
    due = time.perf_counter()
    while len(chain_times) < CHAIN_FRAMES or (helper.is_alive() and
                                               time.perf_counter() - started < 4 * BUDGET_S):
        begun = time.perf_counter()
        view.render(1.0, values, clock)
        view.ctx.finish()
        chain_times.append(time.perf_counter() - begun)
        # Paced like the show's clock: the GL calls hold Python's lock, and back to back they
        # would starve the generator's thread, which the real show lets run between frames.
        due = max(due + period, time.perf_counter())
        time.sleep(max(0.0, due - time.perf_counter()))
    if helper.is_alive():
        helper.join()
    chain = view.chain
    return StartReport(
        renderer=str(view.ctx.info.get("GL_RENDERER", "unknown renderer")),
        generator=generator_description(make.runtime if hasattr(make, "runtime") else None),
        generator_ms=1000.0 * statistics.median(gen_times) if gen_times else math.nan,
        chain_ms=1000.0 * statistics.median(chain_times),
        fps=float(fps), output_size=tuple(chain.output_size), work_size=int(chain.work_size))
