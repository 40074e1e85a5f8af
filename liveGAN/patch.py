"""Patches: a TOML scene file turned into validated, typed settings.

Place in the data flow: `patches/*.toml` -> **patch** -> the engine builds model, walk, mappings,
shader chain and outputs from it. Loading never stops at the first mistake: every problem is
collected with the file, the key, what was found and what was expected, so `livegan check`
reports them all at once and a broken edit during a show is explained in one go.

Two stages: `read_patch` checks the file's own structure (types, ranges, enums, files) and
returns the patch with every problem found (`load_patch` raises them as one PatchError);
`check_params` checks parameter keys, values and mapping sources against a registry, which needs
the shader effects, the model and the inputs to be known (`liveGAN.show.scene.patch_registry`).
Every number must be finite; sizes are bounded before anything is allocated.

Inputs and outputs are plugins (`liveGAN.plugins`): `[[inputs]]` / `[[outputs]]` tables with a
`kind` and that kind's options, checked by the plugin itself. The `[osc]` table is shorthand for
an `osc` input, `[output] record` for a `record` output, and `[output] display / fullscreen` set
the window the show opens when it has a screen (`[output] window = false`: no window).
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from liveGAN.latent import LatentConfigError
from liveGAN.latent.keyframes import WALK_KINDS
from liveGAN.latent.walks import WALKS
from liveGAN.params import ParamError, Registry
from liveGAN.mappings import COMBINES, CURVES, MODES, MappingSpec

FITS = ("fit", "fill", "stretch")
UPSCALES = ("bilinear", "bicubic", "lanczos")  # output/upscale 0, 1, 2: the filters of fit.glsl
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "official", "bf16", "fp16")
NOISE_MODES = ("const", "none", "random")
GRAPH_MODES = ("auto", "on", "off")   # the runtime's names (liveGAN.models.runtime), kept here so
                                      # checking a patch does not import torch
# Output sizes are checked before any buffer is made: a side at most MAX_SIDE pixels (what GL
# drivers guarantee for a texture) and at most MAX_PIXELS in all.
MAX_SIDE = 16384
MAX_PIXELS = 8192 * 8192
# A patch file larger than this is refused before it is parsed (a patch is a few KB).
MAX_PATCH_BYTES = 1 << 20
MAX_TOML_NESTING = 32
MAX_TABLE_ENTRIES = 4096


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a patch."""

    file: str
    key: str
    found: str
    expected: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: found {self.found}, expected {self.expected}"


class PatchError(Exception):
    """Every problem found in a patch; str() lists them one per line (the first
    `SHOWN_PROBLEMS`, then how many more, so a runaway file can't flood the terminal)."""

    SHOWN_PROBLEMS = 50

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = [str(p) for p in problems[:self.SHOWN_PROBLEMS]]
        if len(problems) > self.SHOWN_PROBLEMS:
            shown.append(f"... and {len(problems) - self.SHOWN_PROBLEMS} more problems")
        super().__init__("\n".join(shown))


@dataclass
class ModelSpec:
    path: Path | None = None
    preset: str | None = None
    custom: str | None = None
    z_dim: int | None = None
    output_range: tuple[float, float] = (-1.0, 1.0)
    weights_key: str | None = None
    z_shape: tuple[int, ...] | None = None
    python_path: tuple[Path, ...] = ()
    device: str = "auto"
    precision: str = "auto"
    noise_mode: str = "const"
    graph: str = "auto"
    compile: bool = False
    # Latent navigation that changes the loaded model or its controls (liveGAN.latent): a change
    # to any of these reloads the model off the show's thread, like a new model file.
    directions: tuple = ()            # DirectionSpecs from [[directions]]
    mixing: tuple | None = None       # [mixing]: None off, () the model's ranges, or overrides
    bends: tuple = ()                 # BendSpecs from [[bends]]
    blend: Path | None = None         # a second model of the same architecture (model/blend)
    crossfade: float = 2.0            # seconds a model swap fades through both models
    patch_path: Path | None = field(default=None, compare=False)  # keyframes live beside it

    def custom_options(self) -> dict[str, Any]:
        """What `liveGAN.models.load_generator(custom=...)` takes for a custom generator."""
        return {"factory": self.custom, "z_dim": self.z_dim, "output_range": self.output_range,
                "weights_key": self.weights_key, "z_shape": self.z_shape,
                "python_path": self.python_path}


@dataclass(frozen=True)
class PluginSpec:
    """One `[[inputs]]` or `[[outputs]]` table: the plugin kind, its options, where it was."""

    kind: str
    options: dict = field(default_factory=dict, hash=False, compare=True)
    where: str = ""


@dataclass
class StageSpec:
    effect: str
    name: str


@dataclass(frozen=True)
class LfoSpec:
    """One `[[lfos]]` entry: a low-frequency oscillator in beats, a mapping source `lfo/<name>`."""

    name: str
    shape: str = "sine"
    beats: float = 4.0
    phase: float = 0.0
    width: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class CueSpec:
    """One `[[cues]]` entry: a scene to recall, and over how many beats to morph into it."""

    scene: int
    morph: float = 0.0


@dataclass
class Patch:
    """A validated patch. `values` holds initial parameter values keyed `group/name`."""

    path: Path
    model: ModelSpec
    walk: str = "noise"
    walk_options: dict = field(default_factory=dict)   # keyframes / loop / momentum walks
    size: tuple[int, int] = (1280, 720)
    fps: float = 60.0
    work_size: int | None = None
    window: bool = True
    fullscreen: bool = False
    display: int = 0
    inputs: list[PluginSpec] = field(default_factory=list)
    outputs: list[PluginSpec] = field(default_factory=list)
    stages: list[StageSpec] = field(default_factory=list)
    mappings: list[MappingSpec] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    value_keys: dict[str, str] = field(default_factory=dict)  # param key -> patch key, for errors
    shader_paths: list[Path] = field(default_factory=list)
    clock_source: str = "internal"   # internal | midi | link | audio: who sets the tempo
    lfos: list[LfoSpec] = field(default_factory=list)
    cues: list[CueSpec] = field(default_factory=list)
    text: str = field(default="", repr=False, compare=False)  # the TOML it was read from


def _describe(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({kind})"


class _Reader:
    """Pulls typed values out of TOML tables, recording a Problem for each mismatch."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, key: str, found: str, expected: str) -> None:
        self.problems.append(Problem(self.file, key, found, expected))

    def table(self, data: dict, name: str, allowed: Iterable[str]) -> dict:
        value = data.get(name, {})
        if not isinstance(value, dict):
            self.problem(name, _describe(value), "a table")
            return {}
        self.unknown(value, name, allowed)
        return value

    def unknown(self, table: dict, prefix: str, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        for key in table:
            if key not in allowed:
                where = f"{prefix}.{key}" if prefix else key
                self.problem(where, "an unknown key", "one of " + ", ".join(allowed))

    def number(self, table: dict, key: str, where: str, default, lo=None, hi=None,
               integer: bool = False):
        if key not in table:
            return default
        value = table[key]
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or not math.isfinite(value):
            kind = "an integer" if integer else "a finite number"
            self.problem(where, _describe(value), f"{kind}{_range_text(lo, hi)}")
            return default
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.problem(where, _describe(value), f"a value{_range_text(lo, hi)}")
            return default
        return value

    def choice(self, table: dict, key: str, where: str, default: str, choices: Iterable[str]):
        if key not in table:
            return default
        value = table[key]
        choices = list(choices)
        if value not in choices:
            self.problem(where, _describe(value), "one of " + ", ".join(repr(c) for c in choices))
            return default
        return value

    def string(self, table: dict, key: str, where: str, default=None):
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, str) or not value:
            self.problem(where, _describe(value), "a non-empty string")
            return default
        return value

    def boolean(self, table: dict, key: str, where: str, default: bool):
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, bool):
            self.problem(where, _describe(value), "true or false")
            return default
        return value

    def pair(self, table: dict, key: str, where: str, default, integer: bool = False,
             positive: bool = False, hi=None, distinct: bool = False):
        if key not in table:
            return default
        value = table[key]
        kinds = (int,) if integer else (int, float)
        if (not isinstance(value, list) or len(value) != 2
                or any(isinstance(v, bool) or not isinstance(v, kinds) or not math.isfinite(v)
                       for v in value)
                or (positive and any(v <= 0 for v in value))
                or (hi is not None and any(v > hi for v in value))
                or (distinct and value[0] == value[1])):
            what = "integers" if integer else "finite numbers"
            sign = "positive " if positive else ""
            bound = f" up to {hi}" if hi is not None else ""
            differ = " that differ" if distinct else ""
            self.problem(where, _describe(value), f"an array of two {sign}{what}{bound}{differ}")
            return default
        return (value[0], value[1])

    def strings(self, table: dict, key: str, where: str) -> list[str]:
        if key not in table:
            return []
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problem(where, _describe(value), "an array of non-empty strings")
            return []
        return value


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


TOP_KEYS = ("model", "latent", "clock", "output", "osc", "params", "shaders", "mappings",
            "directions", "mixing", "bends",
            "inputs", "outputs", "lfos", "cues")
CLOCK_SOURCES = ("internal", "midi", "link", "audio")
QUANTIZE = ("off", "beat", "bar")
LFO_SHAPES = ("sine", "triangle", "saw", "square", "random")
MAX_SCENES = 128
# Options of the keyframes / loop / momentum walks (liveGAN.latent.keyframes.make_walk checks
# them when the walk is made).
WALK_OPTIONS = ("keyframes", "beats", "ease", "loop", "period", "momentum", "step")
MODEL_KEYS = ("blend", "crossfade",
              "path", "preset", "custom", "z_dim", "output_range", "weights_key", "z_shape",
              "python_path", "device", "precision", "noise_mode", "graph", "compile")
OUTPUT_KEYS = ("size", "work_size", "fps", "fit", "upscale", "upscale_output", "record",
               "window", "fullscreen", "display", "fade", "blend")


def load_patch(path: str | Path) -> Patch:
    """Read and validate a patch file; raises PatchError listing every problem found."""
    patch, problems = read_patch(path)
    if problems:
        raise PatchError(problems)
    return patch


def read_patch(path: str | Path) -> tuple[Patch | None, list[Problem]]:
    """The patch at `path` and every problem in its structure (None when the file can't be
    read or parsed at all). Never raises for anything inside the file."""
    path = Path(path)
    file = str(path)[:300]

    def broken(key: str, found: str, expected: str) -> tuple[None, list[Problem]]:
        return None, [Problem(file, key, found, expected)]

    try:
        size = path.stat().st_size
        if size > MAX_PATCH_BYTES:
            return broken("(file)", f"a file of {size} bytes",
                          f"a patch of at most {MAX_PATCH_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return broken("(file)", f"an unreadable file ({err})", "a readable UTF-8 TOML file")
    return read_patch_text(text, path)


def read_patch_text(text: str, path: str | Path) -> tuple[Patch | None, list[Problem]]:
    """Like `read_patch`, for patch `text` that was read from (or belongs beside) `path`:
    relative paths in it are relative to `path`'s folder (a performance log's patch)."""
    path = Path(path)
    file = str(path)[:300]

    def broken(key: str, found: str, expected: str) -> tuple[None, list[Problem]]:
        return None, [Problem(file, key, found, expected)]

    if len(text) > MAX_PATCH_BYTES:
        return broken("(file)", f"a patch of {len(text)} characters",
                      f"a patch of at most {MAX_PATCH_BYTES} bytes")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return broken("(syntax)", f"invalid TOML: {err}", "valid TOML")
    except (RecursionError, MemoryError):
        return broken("(syntax)", "TOML nested too deeply to read",
                      f"tables and arrays nested at most {MAX_TOML_NESTING} deep")
    if _depth(data) > MAX_TOML_NESTING:
        return broken("(syntax)", "tables or arrays nested too deeply",
                      f"tables and arrays nested at most {MAX_TOML_NESTING} deep")
    patch, problems = parse_patch(data, path)
    patch.text = text
    return patch, problems


def _depth(value: Any, limit: int = MAX_TOML_NESTING + 1) -> int:
    """How deeply tables and arrays nest in `value` (counting stops past `limit`)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else \
            item if isinstance(item, list) else ()
        todo.extend((child, depth + 1) for child in children
                    if isinstance(child, (dict, list)))
    return deepest


def parse_patch(data: dict, path: Path) -> tuple[Patch, list[Problem]]:
    """Validate already-parsed TOML `data` for the patch at `path`: the patch (with defaults
    where a value was wrong) and every problem found."""
    r = _Reader(str(path))
    r.unknown(data, "", TOP_KEYS)
    base = path.parent
    values: dict[str, Any] = {}
    value_keys: dict[str, str] = {}

    def initial(param_key: str, where: str, value: Any) -> None:
        if value is not None:
            values[param_key] = value
            value_keys[param_key] = where

    patch = Patch(path=path, model=_model(r, data, base, path))

    # [latent]: the walk, and initial values of the latent/... params (ranges: the registry's)
    lt = r.table(data, "latent", ("walk", "seed", "speed", "truncation", "truncation_cutoff",
                                  "avoid_dark") + WALK_OPTIONS)
    patch.walk = r.choice(lt, "walk", "latent.walk", "noise", WALKS + WALK_KINDS)
    patch.walk_options = {key: lt[key] for key in WALK_OPTIONS if key in lt}
    initial("latent/seed", "latent.seed", r.number(lt, "seed", "latent.seed", None, integer=True))
    initial("latent/speed", "latent.speed", r.number(lt, "speed", "latent.speed", None))
    initial("latent/truncation", "latent.truncation",
            r.number(lt, "truncation", "latent.truncation", None))
    initial("latent/truncation_cutoff", "latent.truncation_cutoff",
            r.number(lt, "truncation_cutoff", "latent.truncation_cutoff", None, integer=True))
    initial("latent/avoid_dark", "latent.avoid_dark",
            r.number(lt, "avoid_dark", "latent.avoid_dark", None))

    # [clock]
    ck = r.table(data, "clock", ("bpm", "source", "quantize", "beats_per_bar"))
    initial("clock/bpm", "clock.bpm", r.number(ck, "bpm", "clock.bpm", None))
    patch.clock_source = r.choice(ck, "source", "clock.source", "internal", CLOCK_SOURCES)
    quantize = r.choice(ck, "quantize", "clock.quantize", None, QUANTIZE)
    initial("clock/quantize", "clock.quantize",
            None if quantize is None else QUANTIZE.index(quantize))
    initial("clock/beats_per_bar", "clock.beats_per_bar",
            r.number(ck, "beats_per_bar", "clock.beats_per_bar", None, 1, 32, integer=True))

    # [output]
    out = r.table(data, "output", OUTPUT_KEYS)
    size = r.pair(out, "size", "output.size", (1280, 720), integer=True, positive=True,
                  hi=MAX_SIDE)
    if size[0] * size[1] > MAX_PIXELS:
        r.problem("output.size", _describe(list(size)), f"at most {MAX_PIXELS} pixels in all")
        size = (1280, 720)
    patch.size = size
    patch.fps = r.number(out, "fps", "output.fps", 60.0, 1, 240)
    patch.work_size = r.number(out, "work_size", "output.work_size", None, 16, 4096, integer=True)
    fit = r.choice(out, "fit", "output.fit", None, FITS)
    initial("output/fit", "output.fit", None if fit is None else FITS.index(fit))
    upscale = r.choice(out, "upscale", "output.upscale", None, UPSCALES)
    initial("output/upscale", "output.upscale",
            None if upscale is None else UPSCALES.index(upscale))
    initial("output/upscale_output", "output.upscale_output",
            r.boolean(out, "upscale_output", "output.upscale_output", None))
    record = r.string(out, "record", "output.record")
    patch.window = r.boolean(out, "window", "output.window", True)
    patch.fullscreen = r.boolean(out, "fullscreen", "output.fullscreen", False)
    patch.display = r.number(out, "display", "output.display", 0, 0, 64, integer=True)
    initial("output/fade", "output.fade", r.number(out, "fade", "output.fade", None))
    initial("output/blend", "output.blend", r.boolean(out, "blend", "output.blend", None))

    # [osc]: shorthand for an `osc` input
    osc = r.table(data, "osc", ("port", "host", "enabled", "query_port"))
    port = r.number(osc, "port", "osc.port", 9000, 0, 65535, integer=True)
    host = r.string(osc, "host", "osc.host", "127.0.0.1")
    query_port = r.number(osc, "query_port", "osc.query_port", None, 0, 65535, integer=True)
    if r.boolean(osc, "enabled", "osc.enabled", True):
        options = {"port": port, "host": host}
        if query_port is not None:
            options["query_port"] = query_port
        patch.inputs.append(PluginSpec("osc", options, "osc"))

    # [[inputs]] and [[outputs]]: plugins, each checks its own options
    patch.inputs += _plugins(r, data, "inputs", base)
    patch.outputs = _plugins(r, data, "outputs", base)
    if record is not None:
        patch.outputs.append(PluginSpec("record", {"path": str(base / record)}, "output.record"))

    # [[shaders]]
    shaders = data.get("shaders", [])
    if not isinstance(shaders, list):
        r.problem("shaders", _describe(shaders), "an array of tables ([[shaders]])")
        shaders = []
    names: set[str] = set()
    for i, entry in enumerate(shaders[:MAX_TABLE_ENTRIES]):
        where = f"shaders[{i}]"
        if not isinstance(entry, dict):
            r.problem(where, _describe(entry), "a table with an 'effect' key")
            continue
        r.unknown(entry, where, ("effect", "name", "params"))
        effect = r.string(entry, "effect", f"{where}.effect")
        if effect is None:
            if "effect" not in entry:
                r.problem(f"{where}.effect", "nothing", "the name of a shader effect")
            continue
        name = r.string(entry, "name", f"{where}.name", effect)
        if name in names:
            r.problem(f"{where}.name", _describe(name),
                      "a name not used by another stage (set name = \"...\" on repeats)")
        names.add(name)
        patch.stages.append(StageSpec(effect, name))
        params = entry.get("params", {})
        if not isinstance(params, dict):
            r.problem(f"{where}.params", _describe(params), "a table of parameter values")
            continue
        for key, value in params.items():
            initial(f"{name}/{key}", f"{where}.params.{key}", value)

    # [params]: initial values by `group/name`
    # Both `"grade/hue" = 0.2` and a `[params.grade]` table with `hue = 0.2` are accepted.
    params_table = data.get("params", {})
    if not isinstance(params_table, dict):
        r.problem("params", _describe(params_table), 'a table of "group/name" = value')
        params_table = {}
    for key, value in params_table.items():
        if isinstance(value, dict):
            for name, inner in value.items():
                initial(f"{key}/{name}", f"params.{key}.{name}", inner)
        else:
            initial(key, f'params."{key}"', value)

    # [[mappings]]
    mappings = data.get("mappings", [])
    if not isinstance(mappings, list):
        r.problem("mappings", _describe(mappings), "an array of tables ([[mappings]])")
        mappings = []
    for i, entry in enumerate(mappings[:MAX_TABLE_ENTRIES]):
        spec = _mapping(r, entry, f"mappings[{i}]")
        if spec is not None:
            patch.mappings.append(spec)

    patch.lfos = _lfos(r, data)
    patch.cues = _cues(r, data)
    lfo_names = {lfo.name for lfo in patch.lfos}
    for i, spec in enumerate(patch.mappings):
        if spec.source.startswith("lfo/") and spec.source[4:] not in lfo_names:
            r.problem(f"mappings[{i}].source", _describe(spec.source),
                      "the name of an LFO declared in [[lfos]] (" +
                      (", ".join(f"lfo/{n}" for n in sorted(lfo_names)) or "none declared") + ")")
    combines: dict[str, tuple[str, int]] = {}
    for i, spec in enumerate(patch.mappings):
        if spec.combine == "last":
            continue
        seen = combines.setdefault(spec.target, (spec.combine, i))
        if seen[0] != spec.combine:
            r.problem(f"mappings[{i}].combine", _describe(spec.combine),
                      f"{seen[0]!r} like mappings[{seen[1]}], which drives the same target")

    for name, table in (("shaders", shaders), ("mappings", mappings)):
        if len(table) > MAX_TABLE_ENTRIES:
            r.problem(name, f"{len(table)} entries", f"at most {MAX_TABLE_ENTRIES}")
    patch.values, patch.value_keys = values, value_keys
    user_shaders = base / "shaders"
    patch.shader_paths = [user_shaders] if user_shaders.is_dir() else []
    return patch, r.problems


def _model(r: _Reader, data: dict, base: Path, path: Path) -> ModelSpec:
    """The [model] table (and the latent navigation that changes the model's controls)."""
    m = r.table(data, "model", MODEL_KEYS)
    model = ModelSpec(patch_path=path)
    model_path = r.string(m, "path", "model.path")
    model.preset = r.string(m, "preset", "model.preset")
    model.custom = r.string(m, "custom", "model.custom")
    if model_path is not None:
        model.path = _file_path(r, "model.path", model_path, base)
        if model.path is not None and not model.path.is_file():
            r.problem("model.path", _describe(model_path) + f", a file that does not exist "
                      f"({str(model.path)[:200]})", "the path of a model file, relative to the patch")
    if sum(x is not None for x in (model_path, model.preset)) != 1:
        r.problem("model", "both path and preset" if model_path and model.preset
                  else "neither path nor preset", "exactly one of model.path or model.preset")
    if model.custom is not None:
        if ":" not in model.custom:
            r.problem("model.custom", _describe(model.custom), "'module:callable'")
        # z_dim may come from z_shape or from a file `livegan convert` wrote; the loader
        # says which is missing when none has it.
        model.z_dim = r.number(m, "z_dim", "model.z_dim", None, 1, 4096, integer=True)
        model.output_range = r.pair(m, "output_range", "model.output_range", (-1.0, 1.0),
                                    distinct=True)
        model.weights_key = r.string(m, "weights_key", "model.weights_key")
        shape = m.get("z_shape")
        if shape is not None:
            if (not isinstance(shape, list) or not 1 <= len(shape) <= 4
                    or any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096
                           for v in shape)):
                r.problem("model.z_shape", _describe(shape),
                          "1 to 4 positive integers, e.g. [100, 1, 1]")
            else:
                model.z_shape = tuple(shape)
        # The patch's folder first: a module beside the patch imports with no PYTHONPATH.
        folders = [base.resolve()]
        for text in r.strings(m, "python_path", "model.python_path"):
            folder = _file_path(r, "model.python_path", text, base)
            if folder is not None:
                folders.append(folder)
        model.python_path = tuple(folders)
    model.device = r.choice(m, "device", "model.device", "auto", DEVICES)
    model.precision = r.choice(m, "precision", "model.precision", "auto", PRECISIONS)
    model.noise_mode = r.choice(m, "noise_mode", "model.noise_mode", "const", NOISE_MODES)
    model.graph = r.choice(m, "graph", "model.graph", "auto", GRAPH_MODES)
    model.compile = r.boolean(m, "compile", "model.compile", False)
    blend = r.string(m, "blend", "model.blend")
    if blend is not None:
        model.blend = _file_path(r, "model.blend", blend, base)
        if model.blend is not None and not model.blend.is_file():
            r.problem("model.blend", _describe(blend) + ", a file that does not exist",
                      "a second model file of the same architecture")
    model.crossfade = r.number(m, "crossfade", "model.crossfade", 2.0, 0, 60)
    _latent_navigation(r, data, model)
    return model


def _latent_navigation(r: _Reader, data: dict, model: ModelSpec) -> None:
    """[[directions]], [mixing] and [[bends]] (their own modules check their shape; what needs
    the network, a layer's name or a file's model, is checked when the model is loaded)."""
    from liveGAN.latent.bending import parse_bends
    from liveGAN.latent.directions import parse_direction_specs

    for name, parse, field_name in (("directions", parse_direction_specs, "directions"),
                                    ("bends", parse_bends, "bends")):
        tables = data.get(name, [])
        if not isinstance(tables, list):
            r.problem(name, _describe(tables), f"an array of tables ([[{name}]])")
            continue
        try:
            setattr(model, field_name, tuple(parse(tables[:MAX_TABLE_ENTRIES])))
        except LatentConfigError as err:
            for key, found, expected in err.problems or [(name, str(err), "")]:
                r.problem(key, found, expected)
    mixing = data.get("mixing")
    if mixing is not None:
        if not isinstance(mixing, dict):
            r.problem("mixing", _describe(mixing), "a table ([mixing], ranges optional)")
        else:
            model.mixing = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                        for k, v in mixing.items()))


def _file_path(r: _Reader, where: str, text: str, base: Path) -> Path | None:
    """`text` as a path relative to the patch's folder, or None (reported) if it can't be one."""
    if "\x00" in text or len(text) > 1024:
        r.problem(where, _describe(text), "a path without NUL bytes, at most 1024 characters")
        return None
    path = Path(text)
    try:
        return path if path.is_absolute() else (base / path).resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop, a name too long
        r.problem(where, f"{_describe(text)} ({err})", "a usable path")
        return None


def _plugins(r: _Reader, data: dict, name: str, base: Path) -> list[PluginSpec]:
    """`[[inputs]]` or `[[outputs]]`: kind + options (the plugin checks its options)."""
    entries = data.get(name, [])
    if not isinstance(entries, list):
        r.problem(name, _describe(entries), f"an array of tables ([[{name}]])")
        return []
    specs = []
    for i, entry in enumerate(entries[:64]):
        where = f"{name}[{i}]"
        if not isinstance(entry, dict):
            r.problem(where, _describe(entry), "a table with a 'kind' key")
            continue
        kind = r.string(entry, "kind", f"{where}.kind")
        if kind is None:
            if "kind" not in entry:
                r.problem(f"{where}.kind", "nothing",
                          "the kind of " + ("input" if name == "inputs" else "output")
                          + " (`livegan plugins` lists them)")
            continue
        options = {k: v for k, v in entry.items() if k != "kind"}
        if isinstance(options.get("path"), str) and kind == "record":
            options["path"] = str(base / options["path"])
        if isinstance(options.get("mask"), str) and kind == "window":
            options["mask"] = str(base / options["mask"])
        specs.append(PluginSpec(kind, options, where))
    if len(entries) > 64:
        r.problem(name, f"{len(entries)} entries", "at most 64")
    return specs


def _mapping(r: _Reader, entry: Any, where: str) -> MappingSpec | None:
    """One [[mappings]] table."""
    if not isinstance(entry, dict):
        r.problem(where, _describe(entry), "a table with source and target")
        return None
    r.unknown(entry, where, ("source", "target", "input", "range", "curve", "smoothing",
                             "invert", "dead_zone", "attack", "release", "mode", "combine"))
    source = r.string(entry, "source", f"{where}.source")
    target = r.string(entry, "target", f"{where}.target")
    if source is None or target is None:
        if "source" not in entry:
            r.problem(f"{where}.source", "nothing",
                      "an address like \"/1/fader1\" or a parameter like \"audio/level\"")
        if "target" not in entry:
            r.problem(f"{where}.target", "nothing", "a parameter key like \"latent/speed\"")
        return None
    if not (source.startswith("/") or "/" in source) or len(source) > 256 \
            or not source.isprintable():
        r.problem(f"{where}.source", _describe(source),
                  "an address starting with '/' (\"/1/fader1\", \"/midi/1/cc/7\") or a "
                  "parameter key (\"audio/level\")")
    return MappingSpec(
        source=source, target=target,
        input=r.pair(entry, "input", f"{where}.input", (0.0, 1.0), distinct=True),
        range=r.pair(entry, "range", f"{where}.range", None),
        curve=r.choice(entry, "curve", f"{where}.curve", "linear", CURVES),
        smoothing=r.number(entry, "smoothing", f"{where}.smoothing", None, 0, 60),
        invert=r.boolean(entry, "invert", f"{where}.invert", False),
        dead_zone=r.number(entry, "dead_zone", f"{where}.dead_zone", 0.0, 0, 0.49),
        attack=r.number(entry, "attack", f"{where}.attack", None, 0, 60),
        release=r.number(entry, "release", f"{where}.release", None, 0, 60),
        mode=r.choice(entry, "mode", f"{where}.mode", "absolute", MODES),
        combine=r.choice(entry, "combine", f"{where}.combine", "last", COMBINES),
    )


def _lfos(r: _Reader, data: dict) -> list[LfoSpec]:
    """`[[lfos]]`: oscillators in beats, each a mapping source `lfo/<name>`."""
    entries = data.get("lfos", [])
    if not isinstance(entries, list):
        r.problem("lfos", _describe(entries), "an array of tables ([[lfos]])")
        return []
    lfos: list[LfoSpec] = []
    for i, entry in enumerate(entries[:64]):
        where = f"lfos[{i}]"
        if not isinstance(entry, dict):
            r.problem(where, _describe(entry), "a table with a 'name' key")
            continue
        r.unknown(entry, where, ("name", "shape", "beats", "phase", "width", "seed"))
        name = r.string(entry, "name", f"{where}.name")
        if name is None or "/" in name or not name.isprintable() or len(name) > 64:
            r.problem(f"{where}.name", _describe(entry.get("name")),
                      "a short name without '/' (the mapping source is lfo/<name>)")
            continue
        if any(lfo.name == name for lfo in lfos):
            r.problem(f"{where}.name", _describe(name), "a name not used by another LFO")
            continue
        lfos.append(LfoSpec(
            name=name,
            shape=r.choice(entry, "shape", f"{where}.shape", "sine", LFO_SHAPES),
            beats=r.number(entry, "beats", f"{where}.beats", 4.0, 1 / 64, 4096),
            phase=r.number(entry, "phase", f"{where}.phase", 0.0, 0, 1),
            width=r.number(entry, "width", f"{where}.width", 0.5, 0, 1),
            seed=r.number(entry, "seed", f"{where}.seed", 0, 0, 2**31 - 1, integer=True)))
    if len(entries) > 64:
        r.problem("lfos", f"{len(entries)} entries", "at most 64")
    return lfos


def _cues(r: _Reader, data: dict) -> list[CueSpec]:
    """`[[cues]]`: the cue list `/livegan/scene/next` steps through."""
    entries = data.get("cues", [])
    if not isinstance(entries, list):
        r.problem("cues", _describe(entries), "an array of tables ([[cues]])")
        return []
    cues: list[CueSpec] = []
    for i, entry in enumerate(entries[:MAX_TABLE_ENTRIES]):
        where = f"cues[{i}]"
        if not isinstance(entry, dict):
            r.problem(where, _describe(entry), "a table with a 'scene' key")
            continue
        r.unknown(entry, where, ("scene", "morph"))
        scene = r.number(entry, "scene", f"{where}.scene", None, 1, MAX_SCENES, integer=True)
        if scene is None:
            if "scene" not in entry:
                r.problem(f"{where}.scene", "nothing", f"a scene number 1..{MAX_SCENES}")
            continue
        cues.append(CueSpec(scene, r.number(entry, "morph", f"{where}.morph", 0.0, 0, 1024)))
    return cues


def check_params(patch: Patch, registry: Registry) -> list[Problem]:
    """Problems with the patch's parameter values and mapping targets against `registry`."""
    problems: list[Problem] = []
    file = str(patch.path)
    for key, value in patch.values.items():
        where = patch.value_keys.get(key, key)
        param = registry.get(key)
        if param is None:
            problems.append(Problem(file, where, f"{key!r}, a parameter that does not exist",
                                    _nearest(key, registry)))
            continue
        try:
            coerced = param.coerce(value)
        except ParamError:
            problems.append(Problem(file, where, _describe(value), _a(param.kind)))
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and coerced != value \
                and param.kind != "bool" and not (param.min <= value <= param.max):
            problems.append(Problem(file, where, _describe(value),
                                    f"{_a(param.kind)} in {param.min:g}..{param.max:g}"))
    for i, spec in enumerate(patch.mappings):
        target = registry.get(spec.target)
        if target is None:
            problems.append(Problem(file, f"mappings[{i}].target",
                                    f"{spec.target!r}, a parameter that does not exist",
                                    _nearest(spec.target, registry)))
        elif target.readonly:
            problems.append(Problem(file, f"mappings[{i}].target",
                                    f"{spec.target!r}, a read-only parameter",
                                    "a parameter that can be set (read-only ones are sources)"))
        if not spec.source.startswith(("/", "lfo/")) and spec.source not in registry:
            problems.append(Problem(file, f"mappings[{i}].source",
                                    f"{spec.source!r}, a parameter that does not exist",
                                    _nearest(spec.source, registry)))
    return problems


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _nearest(key: str, registry: Registry) -> str:
    group = key.split("/", 1)[0]
    same_group = [p.key for p in registry if p.group == group]
    if same_group:
        return "one of " + ", ".join(same_group)
    groups = sorted({p.group for p in registry})
    return "a key group/name with group one of " + ", ".join(groups)
