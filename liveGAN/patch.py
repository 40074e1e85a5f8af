"""Patches: a TOML scene file turned into validated, typed settings.

Place in the data flow: `patches/*.toml` -> **patch** -> the engine builds model, walk, mappings,
shader chain and outputs from it. Loading never stops at the first mistake: every problem is
collected with the file, the key, what was found and what was expected, so `livegan check`
reports them all at once and a broken edit during a show is explained in one go.

Two stages: `load_patch` checks the file's own structure (types, ranges, enums, files);
`check_params` checks parameter keys and values against a registry, which needs the shader
effects and the model to be known.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from liveGAN.latent.walks import WALKS
from liveGAN.params import ParamError, Registry
from liveGAN.signals.mapping import CURVES, MappingSpec

FITS = ("fit", "fill", "stretch")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "official", "bf16", "fp16")
NOISE_MODES = ("const", "none", "random")
GRAPH_MODES = ("auto", "on", "off")   # the runtime's names (liveGAN.models.runtime), kept here so
                                      # checking a patch does not import torch


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
    """Every problem found in a patch; str() lists them one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class ModelSpec:
    path: Path | None = None
    preset: str | None = None
    custom: str | None = None
    z_dim: int | None = None
    output_range: tuple[float, float] = (-1.0, 1.0)
    device: str = "auto"
    precision: str = "auto"
    noise_mode: str = "const"
    graph: str = "auto"
    compile: bool = False


@dataclass
class StageSpec:
    effect: str
    name: str


@dataclass
class Patch:
    """A validated patch. `values` holds initial parameter values keyed `group/name`."""

    path: Path
    model: ModelSpec
    walk: str = "noise"
    size: tuple[int, int] = (1280, 720)
    fps: float = 60.0
    work_size: int | None = None
    record: Path | None = None
    fullscreen: bool = False
    display: int = 0
    osc_port: int | None = 9000
    osc_host: str = "127.0.0.1"
    stages: list[StageSpec] = field(default_factory=list)
    mappings: list[MappingSpec] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    value_keys: dict[str, str] = field(default_factory=dict)  # param key -> patch key, for errors
    shader_paths: list[Path] = field(default_factory=list)


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
        if isinstance(value, bool) or not ok:
            kind = "an integer" if integer else "a number"
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
             positive: bool = False):
        if key not in table:
            return default
        value = table[key]
        kinds = (int,) if integer else (int, float)
        if (not isinstance(value, list) or len(value) != 2
                or any(isinstance(v, bool) or not isinstance(v, kinds) for v in value)
                or (positive and any(v <= 0 for v in value))):
            what = "integers" if integer else "numbers"
            sign = "positive " if positive else ""
            self.problem(where, _describe(value), f"an array of two {sign}{what}")
            return default
        return (value[0], value[1])


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


TOP_KEYS = ("model", "latent", "clock", "output", "osc", "params", "shaders", "mappings")


def load_patch(path: str | Path) -> Patch:
    """Read and validate a patch file; raises PatchError listing every problem found."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PatchError([Problem(file, "(file)", f"an unreadable file ({err})",
                                  "a readable UTF-8 TOML file")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PatchError([Problem(file, "(syntax)", f"invalid TOML: {err}",
                                  "valid TOML")]) from None
    return parse_patch(data, path)


def parse_patch(data: dict, path: Path) -> Patch:
    """Validate already-parsed TOML `data` for the patch at `path`."""
    r = _Reader(str(path))
    r.unknown(data, "", TOP_KEYS)
    base = path.parent
    values: dict[str, Any] = {}
    value_keys: dict[str, str] = {}

    def initial(param_key: str, where: str, value: Any) -> None:
        if value is not None:
            values[param_key] = value
            value_keys[param_key] = where

    # [model]
    m = r.table(data, "model", ("path", "preset", "custom", "z_dim", "output_range", "device",
                                "precision", "noise_mode", "graph", "compile"))
    model = ModelSpec()
    model_path = r.string(m, "path", "model.path")
    model.preset = r.string(m, "preset", "model.preset")
    model.custom = r.string(m, "custom", "model.custom")
    if model_path is not None:
        model.path = (base / model_path).resolve() if not Path(model_path).is_absolute() \
            else Path(model_path)
        if not model.path.is_file():
            r.problem("model.path", _describe(model_path) + f", a file that does not exist "
                      f"({model.path})", "the path of a model file, relative to the patch")
    if sum(x is not None for x in (model_path, model.preset)) != 1:
        r.problem("model", "both path and preset" if model_path and model.preset
                  else "neither path nor preset", "exactly one of model.path or model.preset")
    if model.custom is not None:
        if ":" not in model.custom:
            r.problem("model.custom", _describe(model.custom), "'module:callable'")
        model.z_dim = r.number(m, "z_dim", "model.z_dim", None, 1, 4096, integer=True)
        if model.z_dim is None:
            r.problem("model.z_dim", "nothing", "the z size of the custom generator")
        model.output_range = r.pair(m, "output_range", "model.output_range", (-1.0, 1.0))
    model.device = r.choice(m, "device", "model.device", "auto", DEVICES)
    model.precision = r.choice(m, "precision", "model.precision", "auto", PRECISIONS)
    model.noise_mode = r.choice(m, "noise_mode", "model.noise_mode", "const", NOISE_MODES)
    model.graph = r.choice(m, "graph", "model.graph", "auto", GRAPH_MODES)
    model.compile = r.boolean(m, "compile", "model.compile", False)

    patch = Patch(path=path, model=model)

    # [latent]
    lt = r.table(data, "latent", ("walk", "seed", "speed", "truncation", "truncation_cutoff"))
    patch.walk = r.choice(lt, "walk", "latent.walk", "noise", WALKS)
    initial("latent/seed", "latent.seed",
            r.number(lt, "seed", "latent.seed", None, 0, 2**31 - 1, integer=True))
    initial("latent/speed", "latent.speed", r.number(lt, "speed", "latent.speed", None))
    initial("latent/truncation", "latent.truncation",
            r.number(lt, "truncation", "latent.truncation", None))
    initial("latent/truncation_cutoff", "latent.truncation_cutoff",
            r.number(lt, "truncation_cutoff", "latent.truncation_cutoff", None, integer=True))

    # [clock]
    ck = r.table(data, "clock", ("bpm",))
    initial("clock/bpm", "clock.bpm", r.number(ck, "bpm", "clock.bpm", None))

    # [output]
    out = r.table(data, "output", ("size", "work_size", "fps", "fit", "record", "fullscreen",
                                   "display", "fade", "blend"))
    patch.size = r.pair(out, "size", "output.size", (1280, 720), integer=True, positive=True)
    patch.fps = r.number(out, "fps", "output.fps", 60.0, 1, 240)
    patch.work_size = r.number(out, "work_size", "output.work_size", None, 16, 4096, integer=True)
    fit = r.choice(out, "fit", "output.fit", None, FITS)
    initial("output/fit", "output.fit", None if fit is None else FITS.index(fit))
    record = r.string(out, "record", "output.record")
    patch.record = None if record is None else (base / record)
    patch.fullscreen = r.boolean(out, "fullscreen", "output.fullscreen", False)
    patch.display = r.number(out, "display", "output.display", 0, 0, 16, integer=True)
    initial("output/fade", "output.fade", r.number(out, "fade", "output.fade", None))
    blend = r.boolean(out, "blend", "output.blend", None)
    initial("output/blend", "output.blend", blend)

    # [osc]
    osc = r.table(data, "osc", ("port", "host", "enabled"))
    port = r.number(osc, "port", "osc.port", 9000, 0, 65535, integer=True)
    patch.osc_host = r.string(osc, "host", "osc.host", "127.0.0.1")
    patch.osc_port = port if r.boolean(osc, "enabled", "osc.enabled", True) else None

    # [[shaders]]
    shaders = data.get("shaders", [])
    if not isinstance(shaders, list):
        r.problem("shaders", _describe(shaders), "an array of tables ([[shaders]])")
        shaders = []
    names: set[str] = set()
    for i, entry in enumerate(shaders):
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
    for i, entry in enumerate(mappings):
        where = f"mappings[{i}]"
        if not isinstance(entry, dict):
            r.problem(where, _describe(entry), "a table with source and target")
            continue
        r.unknown(entry, where, ("source", "target", "input", "range", "curve", "smoothing"))
        source = r.string(entry, "source", f"{where}.source")
        target = r.string(entry, "target", f"{where}.target")
        if source is None or target is None:
            if "source" not in entry:
                r.problem(f"{where}.source", "nothing", "an OSC address like \"/fader/1\"")
            if "target" not in entry:
                r.problem(f"{where}.target", "nothing", "a parameter key like \"latent/speed\"")
            continue
        if not source.startswith("/"):
            r.problem(f"{where}.source", _describe(source), "an OSC address starting with '/'")
        spec = MappingSpec(
            source=source, target=target,
            input=r.pair(entry, "input", f"{where}.input", (0.0, 1.0)),
            range=r.pair(entry, "range", f"{where}.range", None),
            curve=r.choice(entry, "curve", f"{where}.curve", "linear", CURVES),
            smoothing=r.number(entry, "smoothing", f"{where}.smoothing", None, 0, 60),
        )
        patch.mappings.append(spec)

    patch.values, patch.value_keys = values, value_keys
    user_shaders = base / "shaders"
    patch.shader_paths = [user_shaders] if user_shaders.is_dir() else []
    if r.problems:
        raise PatchError(r.problems)
    return patch


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
        if spec.target not in registry:
            problems.append(Problem(file, f"mappings[{i}].target",
                                    f"{spec.target!r}, a parameter that does not exist",
                                    _nearest(spec.target, registry)))
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
