"""Meaningful directions in a model's latent space: GANSpace, SeFa, their files, their cache.

Place in the data flow: model -> **directions** (computed once, off the frame thread, or read
from a file) -> `DirectionSet` -> `direction/<k>` amounts move W+ between the mapping and the
synthesis (`ModelControls.edit_ws`).

- GANSpace (Härkönen et al. 2020): principal components of W over many mapped random z. The
  leading components are the directions the model varies most along. For a custom generator
  without a mapping network the components are taken from its first layer's activations and
  carried back to z by linear regression (the paper's recipe for BigGAN).
- SeFa (Shen & Zhou 2021): closed form. A layer's style is `s = A w + b`; the unit directions n
  that change the styles of a chosen set of layers most are the top eigenvectors of AᵀA, the
  rows of A stacked over those layers. No sampling for the directions themselves (only 1000
  latents are mapped to measure each one's sigma): a third of a second for SG2-1024 on a CPU.

Amounts are in standard deviations of W along each direction (measured on sampled latents), so
`direction/0 = 2` means "two sigma" for every method and model. A file stores the orthonormal
directions with what they were made for (method, rows, model hash, w_dim, num_ws); loading it
for another model fails with one message naming what differs. GANSpace results are cached per
model content hash under `~/.cache/livegan/directions/` (XDG_CACHE_HOME is honoured).
"""
from __future__ import annotations

import copy
import hashlib
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from liveGAN.files import atomic_path
from liveGAN.latent import LatentConfigError
from liveGAN.latent.layers import describe, family, network_layers, parse_rows
from liveGAN.params import Param

METHODS = ("ganspace", "sefa")
FILE_FORMAT = "livegan-directions"
AMOUNT_MAX = 5.0
DEFAULT_COUNT = 8
GANSPACE_SAMPLES = 50_000       # W is 512-d at most: its leading axes settle well before this
GANSPACE_Z_SAMPLES = 4_000      # custom generators: activations are wide, keep memory bounded
STD_SAMPLES = 1_000             # latents mapped to measure the sigma of each SeFa direction


@dataclass
class Directions:
    """K orthonormal directions (rows of `vectors`, [K, dim]) and the sigma of W along each."""

    vectors: np.ndarray
    stds: np.ndarray
    method: str
    rows: tuple[int, int]           # the W+ rows they were made for and move by default
    w_dim: int
    num_ws: int
    model_hash: str = ""
    space: str = "w"                # "w", or "z" for a custom generator (its W+ is z itself)
    info: dict[str, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.vectors.shape[0])

    def first(self, count: int) -> "Directions":
        """The leading `count` directions."""
        return replace(self, vectors=self.vectors[:count], stds=self.stds[:count])

    def metadata(self) -> dict[str, str]:
        meta = {"format": FILE_FORMAT, "version": "1", "method": self.method,
                "layers": f"{self.rows[0]}:{self.rows[1]}", "model_hash": self.model_hash,
                "w_dim": str(self.w_dim), "num_ws": str(self.num_ws), "space": self.space,
                "count": str(self.count)}
        meta.update({k: str(v) for k, v in self.info.items() if k not in meta})
        return meta

    def save(self, path: str | os.PathLike) -> Path:
        """Write the directions to a safetensors file, atomically."""
        import torch
        from safetensors.torch import save_file

        path = Path(path)
        tensors = {"directions": torch.from_numpy(np.ascontiguousarray(self.vectors, np.float32)),
                   "stds": torch.from_numpy(np.ascontiguousarray(self.stds, np.float32))}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=self.metadata())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Directions":
        """Read a directions file; LatentConfigError naming the file when it is not one."""
        from safetensors import safe_open

        path = Path(path)
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                if meta.get("format") != FILE_FORMAT:
                    raise ValueError("not a liveGAN directions file (made by `livegan directions`)")
                shape = f.get_slice("directions").get_shape()
                w_dim, num_ws = int(meta["w_dim"]), int(meta["num_ws"])
                # Size check before reading: at most w_dim orthonormal rows of w_dim values.
                if len(shape) != 2 or shape[1] != w_dim or not 0 < shape[0] <= w_dim:
                    raise ValueError(f"directions of shape {shape} do not fit w_dim {w_dim}")
                if list(f.get_slice("stds").get_shape()) != [shape[0]]:
                    raise ValueError("one sigma per direction expected")
                vectors = f.get_tensor("directions").astype(np.float32)
                stds = f.get_tensor("stds").astype(np.float32)
            start, stop = (int(v) for v in meta["layers"].split(":"))
        except Exception as err:  # safetensors' own errors are not ValueErrors
            raise LatentConfigError(f"{path}: cannot read directions ({err})",
                                    [("file", str(path), "a file made by `livegan directions`")]
                                    ) from None
        if not (np.isfinite(vectors).all() and np.isfinite(stds).all()):
            raise LatentConfigError(f"{path}: directions hold NaN or infinite values")
        known = {"format", "version", "method", "layers", "model_hash", "w_dim", "num_ws",
                 "space", "count"}
        return cls(vectors, stds, meta.get("method", "?"), (start, stop), w_dim, num_ws,
                   meta.get("model_hash", ""), meta.get("space", "w"),
                   {k: v for k, v in meta.items() if k not in known})

    def check(self, G: Any, model_hash: str | None = None, source: str = "directions") -> None:
        """LatentConfigError naming every mismatch with model G (and its content hash)."""
        mismatches = []
        if self.w_dim != int(G.w_dim):
            mismatches.append(("w_dim", str(self.w_dim), str(G.w_dim)))
        if self.num_ws != int(G.num_ws):
            mismatches.append(("num_ws", str(self.num_ws), str(G.num_ws)))
        if model_hash and self.model_hash and self.model_hash != model_hash:
            mismatches.append(("model_hash", self.model_hash[:16], model_hash[:16]))
        if mismatches:
            what = "; ".join(f"{key} {made} there, {here} here" for key, made, here in mismatches)
            raise LatentConfigError(
                f"{source} were made for another model ({what}); this model is {describe(G)}",
                [(key, made, f"{here} (this model)") for key, made, here in mismatches])


# ------------------------------------------------------------------ model identity
_HASHES: dict[tuple, str] = {}
_HASH_LOCK = threading.Lock()


def model_hash(path: str | os.PathLike) -> str:
    """sha256 of a model file's content (hex), remembered per (path, size, mtime)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _HASH_LOCK:
        if key in _HASHES:
            return _HASHES[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _HASH_LOCK:
        _HASHES[key] = value
    return value


def preset_hash(name: str, seed: int = 0, res: int | None = None) -> str:
    """A stable identity for a preset built with random weights (`livegan bench` presets)."""
    text = f"livegan-preset:{name}:seed={int(seed)}:res={res or ''}"
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------ computing directions
class Cancelled(Exception):
    """A background computation was cancelled (the patch or model changed)."""


def _fix_signs(vectors):
    """Eigenvectors have no sign of their own: make each one's largest component positive, so
    the same model gives the same file on every machine."""
    import torch

    pick = vectors.abs().argmax(dim=1)
    signs = torch.sign(vectors.gather(1, pick[:, None]))
    return vectors * torch.where(signs == 0, torch.ones_like(signs), signs)


def _random_labels(G: Any, count: int, generator) -> Any:
    import torch

    c_dim = int(getattr(G, "c_dim", 0) or 0)
    if c_dim == 0:
        return None
    classes = torch.randint(c_dim, [count], generator=generator)
    return torch.nn.functional.one_hot(classes, c_dim).float()


def _sample_w(mapping, G, z, generator):
    return mapping(z, _random_labels(G, z.shape[0], generator), truncation_psi=1)[:, 0]


def projection_stds(G: Any, vectors, samples: int = STD_SAMPLES, seed: int = 0,
                    mapping=None) -> np.ndarray:
    """Standard deviation of mapped random W along each direction (rows of `vectors`)."""
    import torch

    mapping = mapping if mapping is not None else G.mapping
    device = next(iter(mapping.parameters()), torch.zeros(0)).device
    generator = torch.Generator().manual_seed(int(seed) + 7)
    with torch.inference_mode():
        z = torch.randn([samples, G.z_dim], generator=generator)
        c = _random_labels(G, samples, generator)
        w = mapping(z.to(device), None if c is None else c.to(device), truncation_psi=1)[:, 0]
        projected = w.float().cpu() @ torch.as_tensor(vectors, dtype=torch.float32).T
    return projected.std(dim=0).numpy().astype(np.float32)


def ganspace(G: Any, count: int = DEFAULT_COUNT, samples: int | None = None, seed: int = 0,
             layers: Any = None, batch: int = 2000, model_hash: str = "",
             cancel: threading.Event | None = None,
             progress: Callable[[float], None] | None = None) -> Directions:
    """GANSpace: the `count` leading principal components of W over `samples` random latents.

    Runs on the CPU on a private copy of the mapping network (so it can run on a worker thread
    while the show plays the same model, on any device, even while a blend rewrites weights),
    with whatever torch thread count the process has (one, in a show). `cancel` stops it
    between batches (raises Cancelled). Deterministic for a given seed.
    """
    import torch

    if family(G) == "custom":
        return _ganspace_z(G, count, samples or GANSPACE_Z_SAMPLES, seed, model_hash, cancel,
                           progress)
    samples = int(samples or GANSPACE_SAMPLES)
    rows = parse_rows(layers, int(G.num_ws))
    w_dim = int(G.w_dim)
    if not 0 < count <= w_dim:
        raise LatentConfigError(f"GANSpace count must be 1..{w_dim} (w_dim), got {count}")
    mapping = copy.deepcopy(G.mapping).to("cpu", torch.float32).eval()
    generator = torch.Generator().manual_seed(int(seed))
    shift = None
    total = torch.zeros(w_dim, dtype=torch.float64)
    outer = torch.zeros(w_dim, w_dim, dtype=torch.float64)
    done = 0
    with torch.inference_mode():
        while done < samples:
            size = min(batch, samples - done)
            w = _sample_w(mapping, G, torch.randn([size, G.z_dim], generator=generator),
                          generator)
            # Shifted by the first batch's mean: the float32 sums stay accurate.
            shift = w.mean(dim=0) if shift is None else shift
            x = w - shift
            total += x.sum(dim=0, dtype=torch.float64)
            outer += (x.T @ x).double()
            done += size
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if progress is not None:
                progress(done / samples)
    mean = total / done
    covariance = outer / done - torch.outer(mean, mean)
    values, vectors = torch.linalg.eigh(covariance)
    order = torch.argsort(values, descending=True)[:count]
    top = _fix_signs(vectors[:, order].T).float()
    stds = values[order].clamp_min(0).sqrt().float()
    return Directions(top.numpy(), stds.numpy(), "ganspace", rows, w_dim, int(G.num_ws),
                      model_hash, "w", {"samples": str(samples), "seed": str(seed)})


class _Stop(Exception):
    pass


def _ganspace_z(G, count, samples, seed, model_hash, cancel, progress) -> Directions:
    """GANSpace for a generator whose W+ is z: PCA of its first layer's activations, carried
    back to z by least squares (z ≈ coords @ U), then made orthonormal."""
    import torch

    first = next((m for m in G.synthesis.modules()
                  if not list(m.children()) and list(m.parameters(recurse=False))), None)
    if first is None:
        raise LatentConfigError("GANSpace: this custom generator has no layer with weights")
    z_dim = int(G.z_dim)
    if not 0 < count <= z_dim:
        raise LatentConfigError(f"GANSpace count must be 1..{z_dim} (z_dim), got {count}")
    captured: list = []

    def grab(module, inputs, output):
        captured.append(output.detach().float().flatten(1).cpu())
        raise _Stop()

    device = next(G.parameters()).device
    generator = torch.Generator().manual_seed(int(seed))
    zs = torch.randn([samples, z_dim], generator=generator)
    handle = first.register_forward_hook(grab)
    try:
        with torch.inference_mode():
            for start in range(0, samples, 250):
                try:
                    G.synthesis(zs[start:start + 250].to(device).unsqueeze(1))
                except _Stop:
                    pass
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                if progress is not None:
                    progress(min(start + 250, samples) / samples)
    finally:
        handle.remove()
    acts = torch.cat(captured)
    q = min(count + 8, *acts.shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        _, _, basis = torch.pca_lowrank(acts, q=q, center=True, niter=4)
    coords = (acts - acts.mean(dim=0)) @ basis[:, :count]
    regression = torch.linalg.lstsq(coords.double(), zs.double()).solution.float()  # [K, z_dim]
    q_mat, _ = torch.linalg.qr(regression.T)
    vectors = q_mat.T * torch.sign((q_mat.T * regression).sum(dim=1, keepdim=True) + 1e-30)
    stds = (zs @ vectors.T).std(dim=0)
    return Directions(vectors.numpy(), stds.numpy(), "ganspace", (0, 1), z_dim, 1, model_hash,
                      "z", {"samples": str(samples), "seed": str(seed)})


def sefa(G: Any, count: int = DEFAULT_COUNT, layers: Any = None, model_hash: str = "",
         seed: int = 0) -> Directions:
    """SeFa over the modulated conv layers reading W+ rows `layers` ('A:B', default all).

    Each style channel's weight row is normalised first, so wide and narrow layers count
    alike. Fast enough to run where the model is loaded.
    """
    import torch

    if family(G) == "custom":
        raise LatentConfigError("SeFa needs a style-based generator (StyleGAN2, StyleGAN3, "
                                "light); a custom generator gets GANSpace in z")
    num_ws, w_dim = int(G.num_ws), int(G.w_dim)
    start, stop = parse_rows(layers, num_ws)
    if not 0 < count <= w_dim:
        raise LatentConfigError(f"SeFa count must be 1..{w_dim} (w_dim), got {count}")
    chosen = [l for l in network_layers(G) if l.kind == "conv" and start <= l.row < stop]
    if not chosen:
        raise LatentConfigError(f"SeFa: no modulated conv layer reads rows {start}:{stop} "
                                f"of this model ({describe(G)})")
    with torch.inference_mode():
        stacked = torch.cat([l.module.affine.weight.detach().float().cpu() for l in chosen])
        stacked = stacked / stacked.norm(dim=1, keepdim=True).clamp_min(1e-12)
        values, vectors = torch.linalg.eigh((stacked.T @ stacked).double())
        order = torch.argsort(values, descending=True)[:count]
        top = _fix_signs(vectors[:, order].T).float()
    stds = projection_stds(G, top, seed=seed)
    return Directions(top.numpy(), stds, "sefa", (start, stop), w_dim, num_ws, model_hash, "w",
                      {"layers_used": ",".join(l.name for l in chosen)})


# ------------------------------------------------------------------ the cache
def cache_dir() -> Path:
    """Where computed GANSpace directions are kept: $XDG_CACHE_HOME/livegan/directions."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "livegan" / "directions"


def cache_path(model_hash: str, count: int, samples: int | None = None, seed: int = 0) -> Path:
    """The cache file of one GANSpace computation of one model (by content hash)."""
    samples = samples or GANSPACE_SAMPLES
    return cache_dir() / f"{model_hash}.ganspace-{count}-{samples}-{seed}.safetensors"


def cached_ganspace(G: Any, model_hash: str, count: int = DEFAULT_COUNT,
                    samples: int | None = None, seed: int = 0, compute: bool = True,
                    cancel: threading.Event | None = None) -> Directions | None:
    """GANSpace of G from the cache, computing (and caching, atomically) when it is missing.

    With `compute=False` a miss returns None at once (the caller then starts a DirectionJob).
    A cached file that no longer reads, or that does not fit G, is computed again.
    """
    samples = samples or (GANSPACE_Z_SAMPLES if family(G) == "custom" else GANSPACE_SAMPLES)
    if not model_hash:  # nothing to key a cache on: compute, keep nothing
        return ganspace(G, count, samples, seed, cancel=cancel) if compute else None
    path = cache_path(model_hash, count, samples, seed)
    if path.is_file():
        try:
            found = Directions.load(path)
            found.check(G, model_hash)
            return found
        except LatentConfigError:
            pass
    if not compute:
        return None
    result = ganspace(G, count, samples, seed, model_hash=model_hash, cancel=cancel)
    path.parent.mkdir(parents=True, exist_ok=True)
    result.save(path)
    return result


def lower_thread_priority(niceness: int = 10) -> None:
    """Lower the calling thread's CPU priority (Linux: per thread), so the show comes first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: the computation still runs, just not politely


class DirectionJob:
    """A GANSpace computation on a background thread, cached, then handed to `on_done`.

    The show keeps playing meanwhile: the thread runs at lowered priority on a copy of the
    mapping network. `cancel()` stops it at the next batch; `error` holds what went wrong.
    """

    def __init__(self, G: Any, model_hash: str, count: int, on_done: Callable[[Directions], None],
                 samples: int | None = None, seed: int = 0,
                 log: Callable[[str], None] | None = None) -> None:
        self._args = (G, model_hash, count, samples, seed)
        self._on_done = on_done
        self._log = log or (lambda message: None)
        self._cancel = threading.Event()
        self.error: BaseException | None = None
        self.result: Directions | None = None
        self.thread = threading.Thread(target=self._run, name="liveGAN-directions", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        lower_thread_priority()
        G, digest, count, samples, seed = self._args
        try:
            self.result = cached_ganspace(G, digest, count, samples, seed, cancel=self._cancel)
            self._on_done(self.result)
            where = f", cached in {cache_dir()}" if digest else ""
            self._log(f"directions: GANSpace ready ({count} directions{where})")
        except Cancelled:
            pass
        except Exception as err:  # reported once; the show goes on without these directions
            self.error = err
            self._log(f"directions: GANSpace failed: {type(err).__name__}: {err}")

    def cancel(self) -> None:
        self._cancel.set()

    def done(self) -> bool:
        return not self.thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)


# ------------------------------------------------------------------ patch entries and live sets
@dataclass(frozen=True)
class DirectionSpec:
    """One `[[directions]]` entry of a patch."""

    file: str | None = None
    method: str | None = None
    count: int | None = None
    layers: Any = None
    name: str = ""
    samples: int | None = None
    seed: int = 0

    @property
    def prefix(self) -> str:
        return f"{self.name}_" if self.name else ""


DIRECTION_KEYS = ("file", "method", "count", "layers", "name", "samples", "seed")


def parse_direction_specs(tables: list[Mapping[str, Any]]) -> list[DirectionSpec]:
    """`[[directions]]` tables -> specs; LatentConfigError listing every problem (with keys
    like `directions[1].method`)."""
    problems: list[tuple[str, str, str]] = []
    specs: list[DirectionSpec] = []
    names: set[str] = set()
    for i, table in enumerate(tables):
        where = f"directions[{i}]"
        if not isinstance(table, Mapping):
            problems.append((where, repr(table), "a table"))
            continue
        for key in table:
            if key not in DIRECTION_KEYS:
                problems.append((f"{where}.{key}", repr(key),
                                 "one of " + ", ".join(DIRECTION_KEYS)))
        file, method = table.get("file"), table.get("method")
        if (file is None) == (method is None):
            problems.append((where, "file and method" if file else "neither file nor method",
                             "either `file` (a directions file) or `method` (ganspace | sefa)"))
        if file is not None and not isinstance(file, str):
            problems.append((f"{where}.file", repr(file), "a path"))
        if method is not None and method not in METHODS:
            problems.append((f"{where}.method", repr(method), " | ".join(METHODS)))
        count = table.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or not 1 <= count <= 512):
            problems.append((f"{where}.count", repr(count), "a whole number 1..512"))
        samples = table.get("samples")
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int)
                                    or not 100 <= samples <= 10_000_000):
            problems.append((f"{where}.samples", repr(samples), "a whole number 100..10000000"))
        seed = table.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            problems.append((f"{where}.seed", repr(seed), "a whole number"))
        name = table.get("name", "")
        if not isinstance(name, str) or (name and not name.replace("_", "").isalnum()):
            problems.append((f"{where}.name", repr(name), "letters, digits and _"))
        elif name in names:
            problems.append((f"{where}.name", repr(name),
                             "a name no other [[directions]] entry has (one may go unnamed)"))
        names.add(name if isinstance(name, str) else "")
        layers = table.get("layers")
        if layers is not None:
            try:
                parse_rows(layers, 1_000, f"{where}.layers")
            except LatentConfigError as err:
                problems += err.problems
        specs.append(DirectionSpec(file, method, count, layers, name if isinstance(name, str)
                                   else "", samples, seed if isinstance(seed, int) else 0))
    if problems:
        raise LatentConfigError("; ".join(f"{k}: found {f}, expected {e}" for k, f, e in problems),
                                problems)
    return specs


class DirectionSet:
    """One set of directions played live: `direction/[name_]<k>` amounts over rows [start, stop).

    The params exist from the start; the vectors may arrive later (a GANSpace computation on a
    worker thread calls `attach`), and until then the amounts move nothing.
    """

    def __init__(self, spec: DirectionSpec, count: int, rows: tuple[int, int], method: str,
                 directions: Directions | None = None) -> None:
        self.spec, self.count, self.rows, self.method = spec, int(count), rows, method
        self.keys = [f"direction/{spec.prefix}{k}" for k in range(self.count)]
        self._scaled: Any = None       # numpy [K, dim]: direction * sigma, set by attach
        self._on_device: Any = None    # (that array, the same as a tensor where ws live)
        if directions is not None:
            self.attach(directions)

    @property
    def ready(self) -> bool:
        return self._scaled is not None

    def attach(self, directions: Directions) -> None:
        """Play these directions from the next frame (safe to call from any thread)."""
        if directions.count < self.count:
            raise LatentConfigError(f"directions: {self.count} asked for, the set has "
                                    f"{directions.count}")
        scaled = (directions.vectors[:self.count] * directions.stds[:self.count, None])
        # One reference swap: the frame thread sees the old set or the new one, never a mix.
        self._scaled = np.ascontiguousarray(scaled, dtype=np.float32)

    def params(self) -> list[Param]:
        start, stop = self.rows
        label = f"{self.method} direction"
        return [Param("direction", key.split("/", 1)[1], "float", 0.0, -AMOUNT_MAX, AMOUNT_MAX,
                      0.1, f"{label} {k} on W+ rows {start}:{stop}, in standard deviations")
                for k, key in enumerate(self.keys)]

    def edit(self, ws, values: Mapping[str, float]):
        """ws moved along the directions by this frame's amounts (ws itself when all are 0)."""
        scaled = self._scaled
        if scaled is None:
            return ws
        amounts = [float(values.get(key, 0.0) or 0.0) for key in self.keys]
        if not any(amounts):
            return ws
        import torch

        cached = self._on_device
        if (cached is None or cached[0] is not scaled or cached[1].device != ws.device
                or cached[1].dtype != ws.dtype):
            cached = (scaled, torch.from_numpy(scaled).to(ws.device, ws.dtype))
            self._on_device = cached
        matrix = cached[1]
        delta = torch.tensor(amounts, dtype=ws.dtype).to(ws.device, non_blocking=True) @ matrix
        start, stop = self.rows
        out = ws.clone()
        out[:, start:stop] += delta
        return out


def direction_sets(specs: list[DirectionSpec], G: Any, model_hash: str = "",
                   base_dir: str | os.PathLike = ".",
                   log: Callable[[str], None] | None = None
                   ) -> tuple[list[DirectionSet], list[DirectionJob]]:
    """Live sets for a patch's `[[directions]]` on model G, and the GANSpace jobs still running.

    Files are read and checked against G (and its content hash), SeFa is computed at once,
    GANSpace comes from the cache or from a DirectionJob that attaches it when done (cancel the
    jobs when the patch or model changes). LatentConfigError names the first entry that fails.
    """
    sets: list[DirectionSet] = []
    jobs: list[DirectionJob] = []
    num_ws = int(G.num_ws)
    for i, spec in enumerate(specs):
        where = f"directions[{i}]"
        try:
            rows = parse_rows(spec.layers, num_ws, f"{where}.layers") if spec.layers else None
            if spec.file is not None:
                path = Path(base_dir) / spec.file
                found = Directions.load(path)
                found.check(G, model_hash, source=f"{where}: directions in {path}")
                count = spec.count or found.count
                sets.append(DirectionSet(spec, count, rows or found.rows, found.method, found))
            elif spec.method == "sefa":
                found = sefa(G, spec.count or DEFAULT_COUNT, spec.layers, model_hash, spec.seed)
                sets.append(DirectionSet(spec, found.count, found.rows, "sefa", found))
            else:
                count = spec.count or DEFAULT_COUNT
                space_rows = (0, num_ws)
                cached = cached_ganspace(G, model_hash, count, spec.samples, spec.seed,
                                         compute=False)
                live = DirectionSet(spec, count, rows or space_rows, "ganspace", cached)
                if cached is None:
                    jobs.append(DirectionJob(G, model_hash, count, live.attach, spec.samples,
                                             spec.seed, log))
                sets.append(live)
        except LatentConfigError as err:
            for job in jobs:
                job.cancel()
            raise LatentConfigError(f"{where}: {err}",
                                    [(f"{where}.{k}" if not k.startswith(where) else k, f, e)
                                     for k, f, e in err.problems]) from None
    return sets, jobs
