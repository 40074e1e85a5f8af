"""Generator runtime: run a loaded generator as fast as the device allows, one frame at a time.

Place in the data flow: latent (z / W+ state, labels, truncation) -> **runtime** (mapping,
synthesis, float image -> RGBA8 on the device) -> upload.py (texture) -> shader chain.
The engine's generator worker thread owns one `GeneratorRuntime` and calls it every frame; the
render thread only receives finished RGBA8 tensors.

Speed-ups, each switched on by capability with the plain float32 path as fallback and reference:
- precision: 'fp32', 'official' (fp16 on the blocks the model marks, CUDA only), 'bf16'
  (autocast; on CPUs with AMX or AVX512-BF16 it is faster), 'fp16' (CUDA autocast), 'auto'.
- CUDA graphs of mapping and synthesis with static input buffers. Everything the engine changes
  per frame is either copied into those buffers (z, labels, W+, truncation) or lives in buffers
  the model updates in place (SG2 `noise_gain`, SG3 `synthesis.input.transform`), so replays see
  the new values and nothing is ever recaptured for them.
- channels_last on CUDA; `torch.compile` as an opt-in.
`compare_to_fp32` measures how far a fast path is from the plain float32 one.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch

PRECISIONS = ("auto", "fp32", "official", "bf16", "fp16")
GRAPH_MODES = ("auto", "on", "off")
NOISE_MODES = ("const", "none", "random")


def pick_device(requested: str | torch.device | None = "auto") -> torch.device:
    """'auto' -> cuda, else mps, else cpu. An explicit device that is absent raises ValueError."""
    if isinstance(requested, torch.device):
        requested = str(requested)
    name = (requested or "auto").strip().lower()
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {requested!r} (use auto, cpu, cuda, cuda:N or mps)") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {requested!r} asked for, but this torch build or machine "
                             "has no CUDA; use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {requested!r}: only {torch.cuda.device_count()} CUDA "
                             "device(s) present")
    elif device.type == "mps" and not has_mps:
        raise ValueError(f"device {requested!r} asked for, but MPS is not available here")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {requested!r} (use auto, cpu, cuda or mps)")
    return device


def num_fp16_res(G) -> int:
    """How many top resolutions the model runs in fp16 under the official scheme (0 if none)."""
    for owner in (getattr(G, "synthesis", None), G):
        value = getattr(owner, "num_fp16_res", None)
        if value is not None:
            return int(value)
    kwargs = getattr(G, "init_kwargs", None) or {}
    return int(kwargs.get("num_fp16_res", 0) or 0)


def resolve_precision(precision: str, device: torch.device, G) -> str:
    """The precision that will actually run; ValueError for one the device cannot do."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (use one of {', '.join(PRECISIONS)})")
    if precision == "auto":
        if device.type == "cuda":
            return "official" if num_fp16_res(G) > 0 else "bf16"
        return "fp32"
    if precision in ("official", "fp16") and device.type != "cuda":
        raise ValueError(f"precision {precision!r} needs a CUDA device (running on "
                         f"{device.type}); use fp32 or bf16")
    return precision


@contextlib.contextmanager
def exact_float32():
    """Switch off TF32 for matmuls and convolutions while the block runs (reference results)."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def image_to_rgba8(img: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Float image [1, C, H, W] or [C, H, W] in [-1, 1] -> uint8 [H, W, 4] (RGBA, row 0 = top).

    Same value mapping as the official tools (x * 127.5 + 128, clamped, truncated). One
    channel is shown as grey; a fourth channel becomes alpha, else alpha is 255. Writes into
    `out` when given (no allocation: the CUDA-graph path needs that).
    """
    if img.dim() == 4:
        if img.shape[0] != 1:
            raise ValueError(f"to_rgba8 takes one image, got a batch of {img.shape[0]}")
        img = img[0]
    channels, height, width = img.shape
    if out is None:
        out = torch.empty((height, width, 4), dtype=torch.uint8, device=img.device)
    pixels = (img.to(torch.float32) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    rgb = pixels[:3] if channels >= 3 else pixels[:1].expand(3, height, width)
    out[..., :3].copy_(rgb.permute(1, 2, 0))
    if channels >= 4:
        out[..., 3].copy_(pixels[3])
    else:
        out[..., 3].fill_(255)
    return out


class _Graphed:
    """One CUDA graph with static inputs: copy new values in, replay, read static outputs."""

    def __init__(self, fn: Callable, inputs: list[torch.Tensor], warmup: int = 3) -> None:
        # Plain (not inference-mode) tensors, so callers in and out of inference_mode can
        # both copy new values into them.
        with torch.inference_mode(False):
            self.inputs = [t.clone() for t in inputs]
        # torch requires warm-up on a side stream before capture (lazy inits, cuDNN autotune).
        side = torch.cuda.Stream(device=self.inputs[0].device)
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                fn(*self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: the render thread may use CUDA (interop upload) while we capture.
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self.outputs = fn(*self.inputs)

    def __call__(self, *values: torch.Tensor):
        for static, value in zip(self.inputs, values):
            static.copy_(value, non_blocking=True)
        self.graph.replay()
        return self.outputs


class GeneratorRuntime:
    """Runs `G` on `device` each frame: mapping, synthesis and RGBA8 conversion, made fast.

    `G` is used in place: moved to `device`, set to eval, and its weights switched to
    channels_last on CUDA (contiguous elsewhere); buffers the engine updates live
    (noise gains, SG3 transform) keep working, but look them up after building the runtime.
    Call it from one thread (the engine's generator worker). On CUDA the work runs on the
    runtime's own stream; `frame()` waits for it (`sync_frames=True`) so the returned tensor is
    finished when handed to the render thread, and `ready_event` marks the last frame's end for
    callers that prefer to wait themselves (`sync_frames=False`; they must also wait on it
    before changing live controls, which the next replay reads).
    """

    def __init__(self, G, device: str | torch.device | None = None, precision: str = "auto",
                 graph: str | bool = "auto", compile: bool = False, sync_frames: bool = True,
                 channels_last: bool | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.log = log or (lambda msg: print(msg, flush=True))
        self.device = pick_device(device if device is not None else _module_device(G))
        self.precision = resolve_precision(precision, self.device, G)
        if isinstance(graph, bool):
            graph = "on" if graph else "off"
        if graph not in GRAPH_MODES:
            raise ValueError(f"unknown graph mode {graph!r} (use auto, on or off)")
        self.G = G.to(self.device).eval().requires_grad_(False)
        if channels_last is None:
            # Tensor-core convolutions prefer NHWC. On this CPU the layout measured within noise
            # either way (bench --layout), so the CPU keeps the plain layout.
            channels_last = self.device.type == "cuda"
        self.channels_last = bool(channels_last)
        self.G = self.G.to(memory_format=torch.channels_last if channels_last
                           else torch.contiguous_format)
        if self.device.type == "cuda":
            # Fixed shapes every frame: let cuDNN pick its fastest kernels once (global flag).
            torch.backends.cudnn.benchmark = True
        for name in ("z_dim", "c_dim", "w_dim", "num_ws", "img_resolution", "img_channels"):
            setattr(self, name, int(getattr(G, name)))
        self.sync_frames = sync_frames
        self.graph_active = graph != "off" and self.device.type == "cuda"
        if graph == "on" and self.device.type != "cuda":
            self.log(f"runtime: CUDA graphs need CUDA; running eagerly on {self.device.type}")
        self.compiled = False
        self._synthesis_call = self.G.synthesis
        if compile:
            self._enable_compile()
        self.stream = torch.cuda.Stream(device=self.device) if self.device.type == "cuda" else None
        self.ready_event: torch.cuda.Event | None = None
        self._graphs: dict[tuple, _Graphed] = {}
        # Per-row truncation weights: rows below the cutoff get psi, the rest 1 (lerp to self).
        with torch.inference_mode(False):
            self._psi_rows = torch.ones([self.num_ws, 1], device=self.device)
        # (static image, static RGBA) of the last graph replay, so to_rgba8 need not convert.
        self._last_static: tuple | None = None
        self._interrupt_hooks: list = []

    # ----------------------------------------------------------------- set-up helpers
    def _enable_compile(self) -> None:
        try:
            self._synthesis_call = torch.compile(self.G.synthesis, dynamic=False)
            self.compiled = True
        except Exception as exc:
            self.log(f"runtime: torch.compile unavailable ({exc}); running uncompiled")

    def _autocast(self, capturing: bool = False):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        if dtype is None:
            return contextlib.nullcontext()
        # The autocast weight cache must be off inside graph capture (torch's rule).
        return torch.autocast(device_type=self.device.type, dtype=dtype,
                              cache_enabled=not capturing)

    @contextlib.contextmanager
    def _stream_scope(self):
        """Run the block on the runtime's stream, ordered after and before the caller's."""
        if self.stream is None:
            yield
            return
        caller = torch.cuda.current_stream(self.device)
        # Work the caller queued on its own stream (e.g. a W+ blend) must finish first ...
        self.stream.wait_stream(caller)
        with torch.cuda.stream(self.stream):
            yield
        # ... and whatever the caller does next with our outputs runs after them (GPU-side
        # ordering only: the CPU does not wait here).
        caller.wait_stream(self.stream)

    def _label(self, c, batch: int) -> torch.Tensor | None:
        if self.c_dim == 0:
            return None
        if c is None:
            raise ValueError(f"this generator is conditional: pass c with {self.c_dim} "
                             "class values per sample")
        c = torch.as_tensor(c, dtype=torch.float32).to(self.device, non_blocking=True)
        return c.reshape(batch, self.c_dim)

    def _run_graph(self, key: tuple, fn: Callable, inputs: list[torch.Tensor]):
        """Replay the graph for `key`, capturing it the first time; None if capture failed."""
        graphed = self._graphs.get(key)
        if graphed is None:
            try:
                graphed = _Graphed(fn, inputs)
            except Exception as exc:
                self.log(f"runtime: CUDA graph capture failed ({type(exc).__name__}: {exc}); "
                         "running eagerly")
                self.graph_active = False
                self._graphs.clear()
                with contextlib.suppress(Exception):  # the failed capture's error, if pending
                    torch.cuda.synchronize(self.device)
                return None
            self._graphs[key] = graphed
        return graphed(*inputs)

    def interrupt_with(self, check: Callable[[], None] | None) -> bool:
        """Call `check` before each layer of synthesis, so it may raise to abandon a frame
        that a newer request has replaced (the live generator worker does). On the CPU and
        uncompiled only: on CUDA the layers are launched ahead of the GPU (or replayed as one
        graph), so there is nothing left to save by then. None removes it. Returns whether it
        is installed."""
        for handle in self._interrupt_hooks:
            handle.remove()
        self._interrupt_hooks = []
        synthesis = self.G.synthesis
        if check is None or self.device.type != "cpu" or self.compiled \
                or not isinstance(synthesis, torch.nn.Module):
            return False
        for layer in _layers(synthesis):
            self._interrupt_hooks.append(
                layer.register_forward_pre_hook(lambda module, args: check()))
        return bool(self._interrupt_hooks)

    def reset_graphs(self) -> None:
        """Forget captured CUDA graphs; the next frame captures again. Needed after a change
        to what the network computes (bends added or removed), never for new values."""
        self._graphs.clear()
        self._last_static = None

    # ----------------------------------------------------------------- the per-frame API
    def mapping_static(self, z: torch.Tensor, c: torch.Tensor | None,
                       psi_rows: torch.Tensor) -> torch.Tensor:
        """Mapping with truncation as a tensor op (what the CUDA graph captures).

        `psi_rows` [num_ws, 1] holds psi for rows below the cutoff and 1 for the rest, so a new
        psi or cutoff is a buffer write, not a new graph. Equals `G.mapping(z, c, psi, cutoff)`.
        """
        ws = self.G.mapping(z, c, truncation_psi=1)
        return torch.lerp(self.G.mapping.w_avg.to(ws.dtype), ws, psi_rows)

    @torch.no_grad()
    def mapping(self, z, c=None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        """z [N, z_dim] (+ labels c [N, c_dim]) -> ws [N, num_ws, w_dim] float32 on the device.

        Always float32: W is where the engine walks, mixes and bends. Returns a fresh tensor.
        """
        z = torch.as_tensor(z, dtype=torch.float32).to(self.device, non_blocking=True)
        if z.dim() == 1:
            z = z.unsqueeze(0)
        c = self._label(c, z.shape[0])
        with self._stream_scope():
            if self.graph_active and hasattr(self.G.mapping, "w_avg"):
                cutoff = self.num_ws if truncation_cutoff is None else int(truncation_cutoff)
                self._psi_rows.fill_(1.0)
                self._psi_rows[:max(0, min(cutoff, self.num_ws))].fill_(float(truncation_psi))
                inputs = [z, self._psi_rows] + ([c] if c is not None else [])
                key = ("mapping", z.shape[0])
                out = self._run_graph(
                    key, lambda z_, p_, *c_: self.mapping_static(z_, c_[0] if c_ else None, p_),
                    inputs)
                if out is not None:
                    return out.clone()
            return self.G.mapping(z, c, truncation_psi=truncation_psi,
                                  truncation_cutoff=truncation_cutoff)

    def _synthesize(self, ws: torch.Tensor, noise_mode: str, capturing: bool = False):
        with self._autocast(capturing):
            img = self._synthesis_call(ws, noise_mode=noise_mode,
                                       force_fp32=self.precision != "official")
        return img.to(torch.float32)

    def _synthesize_rgba(self, ws: torch.Tensor, noise_mode: str):
        img = self._synthesize(ws, noise_mode, capturing=True)
        rgba = image_to_rgba8(img[:1]) if img.shape[0] == 1 else None
        return img, rgba

    @torch.no_grad()
    def synthesis(self, ws, noise_mode: str = "const") -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> img [N, C, H, W] float32 in about [-1, 1], on the device.

        With a CUDA graph the result is the graph's static output buffer: valid until the next
        call (copy it to keep it).
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"unknown noise_mode {noise_mode!r} (use const, none or random)")
        ws = torch.as_tensor(ws, dtype=torch.float32).to(self.device, non_blocking=True)
        if ws.dim() == 2:
            ws = ws.unsqueeze(0)
        if tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        with self._stream_scope():
            if self.graph_active:
                key = ("synthesis", ws.shape[0], noise_mode)
                out = self._run_graph(key, lambda w: self._synthesize_rgba(w, noise_mode), [ws])
                if out is not None:
                    self._last_static = out
                    return out[0]
            self._last_static = None
            try:
                return self._synthesize(ws, noise_mode)
            except Exception as exc:
                if not self.compiled:
                    raise
                # torch.compile fails lazily (no compiler, unsupported op): say so once, go on.
                self.log(f"runtime: compiled synthesis failed ({type(exc).__name__}: {exc}); "
                         "running uncompiled")
                self.compiled = False
                self._synthesis_call = self.G.synthesis
                return self._synthesize(ws, noise_mode)

    @torch.no_grad()
    def to_rgba8(self, img: torch.Tensor) -> torch.Tensor:
        """img [1, C, H, W] -> a fresh contiguous uint8 [H, W, 4] on the device (RGBA, alpha
        255, row 0 = image top). The caller owns it; it survives later calls."""
        with self._stream_scope():
            static = self._last_static
            if static is not None and static[1] is not None and img is static[0]:
                rgba = static[1].clone()  # converted inside the synthesis graph already
            else:
                rgba = image_to_rgba8(img)
            self._mark_ready()
        return rgba

    def _mark_ready(self) -> None:
        if self.stream is None:
            return
        event = torch.cuda.Event()
        event.record(self.stream)
        self.ready_event = event
        if self.sync_frames:
            event.synchronize()

    def frame(self, z, c=None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
              noise_mode: str = "const") -> torch.Tensor:
        """z (+ c) -> finished RGBA8 frame [H, W, 4] on the device: mapping, synthesis, convert."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.to_rgba8(self.synthesis(ws[:1], noise_mode=noise_mode))

    def warmup(self, noise_modes=("const",)) -> None:
        """Capture graphs / compile now (model load time), so the first live frame is not slow."""
        z = torch.zeros([1, self.z_dim], device=self.device)
        c = torch.zeros([1, self.c_dim], device=self.device) if self.c_dim else None
        for mode in noise_modes:
            self.to_rgba8(self.synthesis(self.mapping(z, c), noise_mode=mode))

    def describe(self) -> str:
        """One line: device, precision, graph, compile (what `livegan bench` prints)."""
        name = self.device.type
        if self.device.type == "cuda":
            name = f"cuda ({torch.cuda.get_device_name(self.device)})"
        return (f"device={name} precision={self.precision} "
                f"graph={'on' if self.graph_active else 'off'} "
                f"compile={'on' if self.compiled else 'off'}")


def _layers(module: torch.nn.Module, depth: int = 3) -> list[torch.nn.Module]:
    """A synthesis network's layers: its children, looking inside a lone container (a custom
    network that is one Sequential)."""
    children = list(module.children())
    if len(children) == 1 and depth > 0 and list(children[0].children()):
        return _layers(children[0], depth - 1)
    return children


def _module_device(G) -> torch.device:
    for tensor in list(G.parameters())[:1] + list(G.buffers())[:1]:
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def compare_to_fp32(G, runtime: GeneratorRuntime, n: int = 4, seed: int = 0,
                    truncation_psi: float = 0.7) -> dict:
    """Distance of `runtime`'s images from the plain float32 path of `G`, over `n` samples.

    The reference runs eagerly in float32 with TF32 off on the runtime's device. Returns
    max_abs (largest pixel difference, in [-1, 1] units) and rel_err (L2 norm of the
    difference over the L2 norm of the reference).
    """
    device = runtime.device
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn([n, runtime.z_dim], generator=generator).to(device)
    c = None
    if runtime.c_dim:
        c = torch.nn.functional.one_hot(torch.arange(n) % runtime.c_dim,
                                        runtime.c_dim).float().to(device)
    diff_sq = ref_sq = 0.0
    max_abs = 0.0
    for i in range(n):
        ci = c[i:i + 1] if c is not None else None
        with exact_float32():
            ws_ref = G.mapping(z[i:i + 1], ci, truncation_psi=truncation_psi)
            ref = G.synthesis(ws_ref, noise_mode="const", force_fp32=True).to(torch.float32)
        ws = runtime.mapping(z[i:i + 1], ci, truncation_psi=truncation_psi)
        img = runtime.synthesis(ws, noise_mode="const").to(torch.float32).clone()
        if runtime.stream is not None:
            runtime.stream.synchronize()
        delta = img - ref
        max_abs = max(max_abs, float(delta.abs().max()))
        diff_sq += float(delta.double().square().sum())
        ref_sq += float(ref.double().square().sum())
    rel_err = (diff_sq ** 0.5) / max(ref_sq ** 0.5, 1e-30)
    return {"max_abs": max_abs, "rel_err": rel_err, "n": n}
