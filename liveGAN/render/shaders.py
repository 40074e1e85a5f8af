"""Shader effects: find them on a search path, read their declared params, compile them.

Place in the data flow: image -> **shader chain** -> outputs. `chain.py` strings effects together;
this module knows what one effect file is. An effect is one GLSL fragment shader in a folder on
the search path (the patch folder's `shaders/` and any `--path` first, then the shipped
`shaders/`); the file name without `.glsl` is the effect name, and the first folder that has
it wins, so a patch can override a shipped effect by copying it.

Writing an effect
-----------------
The file holds the body of a GLSL 3.30 fragment shader *without* a `#version` line: the engine
prepends `ENGINE_HEADER` (the version, the engine uniforms, `in vec2 v_uv`, `out vec4
frag_color`, `PI` and `TAU`). Error messages use the line numbers of your file.

Engine uniforms, supplied every frame (use the ones you need, never declare them)::

    sampler2D u_input      the image coming into this stage (the generator frame for the
                           first stage, the previous stage's output after that)
    sampler2D u_prev       this stage's own output from the previous frame (feedback)
    vec2  u_resolution     size in pixels of what this stage draws (the square working size;
                           the output size in the final `fit` stage)
    vec2  u_input_size     size in pixels of the generator frame
    float u_time           seconds since start          int u_frame   frames since start
    float u_beat           beats since start            float u_beat_phase   0..1 within a beat
    float u_bpm            tempo
    float u_level, u_bass, u_mid, u_treble, u_onset     audio features, 0 when no audio
    float u_fade           master fade, 0 in blackout

Coordinates: `v_uv` runs 0..1 with (0, 0) at the bottom left of the picture (plain GL
convention; the chain turns the generator image the right way up before the first stage).

An effect's own parameters are uniforms declared with an `@param` comment on the same line::

    uniform float decay;    // @param 0.9 [0, 1] smoothing=0.1 "how much of the trail stays"
    uniform int segments;   // @param 6 [1, 24] "number of mirrored wedges"
    uniform bool invert;    // @param false "swap light and dark"

i.e. `// @param DEFAULT [MIN, MAX] smoothing=SECONDS "DESCRIPTION"`, where the range is
required for float and int and left out for bool (a bool default is true/false or 1/0), and
`smoothing=` (seconds to cover 63% of a jump, floats only) and the description are optional.
Each declaration becomes a `liveGAN.params.Param` named after the uniform, in the group of the
stage's instance name (the effect name unless the patch names the stage), so OSC reaches it at
`/livegan/<instance>/<uniform>`. A line `// @effect ONE-LINE DESCRIPTION` describes the effect
for `livegan shaders`. A uniform without `@param` that is not an engine uniform, a malformed
declaration, or a default outside its range is an error naming the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from liveGAN.params import Param
from liveGAN.resources import shaders_dir

SUFFIX = ".glsl"

ENGINE_UNIFORMS: dict[str, str] = {
    "u_input": "sampler2D", "u_prev": "sampler2D",
    "u_resolution": "vec2", "u_input_size": "vec2",
    "u_time": "float", "u_frame": "int", "u_beat": "float", "u_beat_phase": "float",
    "u_bpm": "float", "u_level": "float", "u_bass": "float", "u_mid": "float",
    "u_treble": "float", "u_onset": "float", "u_fade": "float",
}

ENGINE_HEADER = "\n".join(
    ["#version 330 core"]
    + [f"uniform {kind} {name};" for name, kind in ENGINE_UNIFORMS.items()]
    + ["in vec2 v_uv;", "out vec4 frag_color;",
       "const float PI = 3.14159265358979;", "const float TAU = 6.28318530717959;", ""])
HEADER_LINES = ENGINE_HEADER.count("\n")

# A fullscreen triangle made from gl_VertexID, so no vertex buffer is needed.
VERTEX_SHADER = """#version 330 core
out vec2 v_uv;
void main() {
    vec2 corner = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    v_uv = corner;
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
"""

TEMPLATE = '''// @effect what this effect does, in one line
// Engine uniforms (u_input, u_prev, u_resolution, u_time, u_beat_phase, u_level, ...) and
// v_uv / frag_color are declared by the engine; see liveGAN/render/shaders.py.
uniform float amount;   // @param 0.5 [0, 1] smoothing=0.05 "how strong the effect is"

void main() {
    vec4 color = texture(u_input, v_uv);
    frag_color = vec4(mix(color.rgb, 1.0 - color.rgb, amount), 1.0);
}
'''


class ShaderError(Exception):
    """A shader that cannot be found, parsed or compiled; the message names file and line."""


@dataclass(frozen=True)
class ParamSpec:
    """One `@param` declaration as written in an effect file."""

    name: str
    kind: str
    default: float
    min: float
    max: float
    smoothing: float
    description: str
    line: int

    def param(self, group: str) -> Param:
        """The registry param for this declaration in stage `group`."""
        return Param(group=group, name=self.name, kind=self.kind, default=self.default,
                     min=self.min, max=self.max, smoothing=self.smoothing,
                     description=self.description)


@dataclass(frozen=True)
class Effect:
    """A parsed effect file: its source and declared params (no GL objects)."""

    name: str
    path: Path
    source: str
    description: str
    params: tuple[ParamSpec, ...]

    def declared(self, group: str) -> list[Param]:
        return [spec.param(group) for spec in self.params]


def search_path(extra: Iterable[Path | str] = ()) -> list[Path]:
    """User folders first, in the order given, then the shipped `shaders/` folder."""
    folders = [Path(p) for p in extra]
    shipped = shaders_dir()
    if shipped not in folders:
        folders.append(shipped)
    return folders


def list_effects(path: Iterable[Path]) -> dict[str, Path]:
    """Every effect on the search path, name -> file; the first folder with a name wins."""
    found: dict[str, Path] = {}
    for folder in path:
        if not Path(folder).is_dir():
            continue
        for file in sorted(Path(folder).glob("*" + SUFFIX)):
            found.setdefault(file.stem, file)
    return dict(sorted(found.items()))


def find_effect(name: str, path: Iterable[Path]) -> Path:
    """The file of effect `name`; ShaderError naming the effect and the folders searched."""
    folders = list(path)
    for folder in folders:
        file = Path(folder) / (name + SUFFIX)
        if file.is_file():
            return file
    searched = ", ".join(str(f) for f in folders) or "(empty search path)"
    raise ShaderError(f"shader effect {name!r} not found (searched {searched})")


_UNIFORM = re.compile(r"^\s*uniform\s+(?:(?:lowp|mediump|highp)\s+)?(\w+)\s+(\w+)\s*;")
_PARAM = re.compile(
    r"""^\s*(?P<default>\S+)
        (?:\s*\[\s*(?P<min>[^,\]\s]+)\s*,\s*(?P<max>[^\]\s]+)\s*\])?
        (?:\s+smoothing\s*=\s*(?P<smoothing>\S+))?
        (?:\s+"(?P<description>[^"]*)")?\s*$""", re.VERBOSE)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KINDS = {"float": "float", "int": "int", "bool": "bool"}


def _number(text: str, what: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ShaderError(f"{where}: {what} {text!r} is not a number") from None


def _parse_param(kind: str, name: str, spec: str, where: str, line: int) -> ParamSpec:
    match = _PARAM.match(spec)
    if match is None:
        raise ShaderError(f"{where}: cannot read @param {spec.strip()!r}; expected "
                          f'DEFAULT [MIN, MAX] smoothing=SECONDS "DESCRIPTION"')
    default_text, lo_text, hi_text = match["default"], match["min"], match["max"]
    if kind == "bool":
        values = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0}
        if default_text.lower() not in values:
            raise ShaderError(f"{where}: bool {name} default must be true/false, "
                              f"not {default_text!r}")
        default, lo, hi = values[default_text.lower()], 0.0, 1.0
    else:
        if lo_text is None:
            raise ShaderError(f"{where}: {kind} {name} needs a range, e.g. @param 0.5 [0, 1]")
        default = _number(default_text, "default", where)
        lo = _number(lo_text, "minimum", where)
        hi = _number(hi_text, "maximum", where)
        if kind == "int" and not all(float(v).is_integer() for v in (default, lo, hi)):
            raise ShaderError(f"{where}: int {name} needs whole numbers for default and range")
        if lo > hi:
            raise ShaderError(f"{where}: {name} range [{lo:g}, {hi:g}] is empty")
        if not lo <= default <= hi:
            raise ShaderError(f"{where}: {name} default {default:g} is outside [{lo:g}, {hi:g}]")
    smoothing = 0.0
    if match["smoothing"] is not None:
        smoothing = _number(match["smoothing"], "smoothing", where)
        if smoothing < 0:
            raise ShaderError(f"{where}: smoothing must be 0 or more seconds, not {smoothing:g}")
    return ParamSpec(name=name, kind=kind, default=default, min=lo, max=hi, smoothing=smoothing,
                     description=match["description"] or "", line=line)


def parse_effect(path: Path, source: str | None = None) -> Effect:
    """Read an effect file and its `@param` declarations (no GL needed)."""
    path = Path(path)
    if source is None:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ShaderError(f"{path}: cannot read shader ({exc})") from None
    description = ""
    params: list[ParamSpec] = []
    seen: set[str] = set()
    for number, text in enumerate(source.splitlines(), start=1):
        where = f"{path}:{number}"
        code, _, comment = text.partition("//")
        comment = comment.strip()
        if comment.startswith("@effect") and not code.strip():
            description = description or comment[len("@effect"):].strip()
            continue
        if code.lstrip().startswith("#version"):
            raise ShaderError(f"{where}: leave out #version; the engine adds it with its uniforms")
        uniform = _UNIFORM.match(code)
        has_param = comment.startswith("@param")
        if uniform is None:
            if has_param:
                raise ShaderError(f"{where}: @param must follow 'uniform <float|int|bool> <name>;' "
                                  "on the same line")
            continue
        kind, name = uniform.groups()
        if name in ENGINE_UNIFORMS:
            raise ShaderError(f"{where}: {name} is supplied by the engine; do not declare it")
        if not has_param:
            raise ShaderError(f"{where}: uniform {name} has no // @param declaration "
                              "(only engine uniforms may go without one)")
        if kind not in _KINDS:
            raise ShaderError(f"{where}: @param uniform {name} must be float, int or bool, "
                              f"not {kind}")
        if not _NAME.match(name):
            raise ShaderError(f"{where}: param name {name!r} must be lower case letters, digits, _")
        if name in seen:
            raise ShaderError(f"{where}: param {name} declared twice")
        seen.add(name)
        params.append(_parse_param(kind, name, comment[len("@param"):], where, number))
    return Effect(name=path.stem, path=path, source=source, description=description,
                  params=tuple(params))


_ERROR_LINE = re.compile(r"(?:^|\b)\d+[:(](\d+)\)?")


def _driver_message(error: str, path: Path) -> str:
    """The driver's compile log, each line renumbered to the effect file (first line only)."""
    lines = [ln.strip() for ln in error.splitlines()]
    lines = [ln for ln in lines if ln and not set(ln) <= {"="}
             and ln not in ("GLSL Compiler failed", "fragment_shader", "vertex_shader")]
    for text in lines:
        match = _ERROR_LINE.search(text)
        if match:
            line = int(match[1]) - HEADER_LINES
            detail = text[match.end():].lstrip(" :(0123456789)")
            detail = re.sub(r"^error:\s*", "", detail, flags=re.IGNORECASE)
            return f"{path}:{max(line, 1)}: {detail}"
    return f"{path}: {lines[0] if lines else 'compile failed'}"


def compile_effect(ctx, effect: Effect):
    """Compile `effect` into a moderngl Program; ShaderError with file:line on failure."""
    import moderngl

    try:
        return ctx.program(vertex_shader=VERTEX_SHADER,
                           fragment_shader=ENGINE_HEADER + effect.source)
    except moderngl.Error as exc:
        raise ShaderError(_driver_message(str(exc), effect.path)) from None


def load_effect(name: str, path: Iterable[Path]) -> Effect:
    """Find and parse effect `name` on the search path."""
    return parse_effect(find_effect(name, path))
