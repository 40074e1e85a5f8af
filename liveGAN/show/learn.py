"""MIDI learn: arm a parameter, move a control, and the control drives it from then on.

Place in the data flow: `/livegan/learn <param>` (or the window's L key: the parameter last
changed) arms **learn**; the MIDI source posts each event no mapping uses as
`/livegan/learn/heard <address> <value> <kind>`; the first one while armed becomes a mapping at
once (the show rebuilds its address table) and is written into the patch file, keeping its
comments and layout (tomlkit), atomically, on a background thread. Nothing moved within the
timeout: one line says so and nothing changes.

`mapping_for(address, kind, param)` chooses how a control drives a parameter: an encoder is
relative, a note toggles a bool, a bend spans -1..1; `add_mapping_to_file` is the one place a
patch file gets a mapping (the `livegan learn` command uses it too).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from liveGAN.files import write_text
from liveGAN.params import Param, Registry
from liveGAN.mappings import MappingSpec

TIMEOUT_S = 10.0
# What the MIDI source says an event is (the third argument of /livegan/learn/heard).
KINDS = ("cc", "cc14", "relative", "note", "bend", "pressure", "program")


def mapping_for(address: str, kind: str, param: Param) -> MappingSpec:
    """The mapping a learned control gets onto `param`."""
    spec = MappingSpec(source=address, target=param.key)
    if kind == "relative":
        spec.mode = "relative"
    elif kind == "note" and param.kind == "bool":
        spec.mode = "toggle"
    elif kind == "bend":
        spec.input = (-1.0, 1.0)
    elif kind == "program":
        spec.input = (0.0, 127.0)
    return spec


def mapping_table(spec: MappingSpec) -> dict:
    """The `[[mappings]]` keys that differ from the defaults, in the order people read them."""
    table: dict = {"source": spec.source, "target": spec.target}
    if spec.input != (0.0, 1.0):
        table["input"] = [float(spec.input[0]), float(spec.input[1])]
    if spec.mode != "absolute":
        table["mode"] = spec.mode
    return table


def add_mapping_to_file(path: Path, spec: MappingSpec) -> None:
    """Append `spec` to the patch at `path` as a `[[mappings]]` table (replacing one with the
    same source and target), keeping everything else of the file as it was; atomic."""
    import tomlkit

    document = tomlkit.parse(Path(path).read_text(encoding="utf-8"))
    mappings = document.get("mappings")
    if mappings is None:
        mappings = tomlkit.aot()
        document.append("mappings", mappings)
    for index in reversed(range(len(mappings))):
        entry = mappings[index]
        if entry.get("source") == spec.source and entry.get("target") == spec.target:
            del mappings[index]
    table = tomlkit.table()
    table.add(tomlkit.comment("learned"))
    for key, value in mapping_table(spec).items():
        table[key] = value
    mappings.append(table)
    write_text(path, tomlkit.dumps(document))


class Learn:
    """The armed parameter, and the binding that waits for the show to adopt it."""

    def __init__(self, say: Callable[[str], None], log: Callable[[str, str], None],
                 timeout_s: float = TIMEOUT_S) -> None:
        self.say, self.log = say, log
        self.timeout_s = timeout_s
        self.armed: str | None = None
        self._deadline = 0.0
        self._bound: MappingSpec | None = None
        self._write_lock = threading.Lock()

    def arm(self, key: object, registry: Registry, now: float) -> None:
        param = registry.get(key) if isinstance(key, str) else None
        if param is None or param.readonly:
            raise ValueError(f"learn takes the key of a settable parameter (latent/speed), "
                             f"got {key!r}")
        self.armed, self._deadline = param.key, now + self.timeout_s
        self.say(f"learn: move a MIDI control to drive {param.key} "
                 f"({self.timeout_s:g} s)")

    def cancel(self) -> None:
        if self.armed is not None:
            self.say(f"learn: cancelled for {self.armed}")
        self.armed = None

    def heard(self, values: tuple, registry: Registry) -> None:
        """An unmapped control moved (`address value kind`); binds it when armed."""
        if self.armed is None or len(values) < 3:
            return
        address, _value, kind = values[0], values[1], values[2]
        if not isinstance(address, str) or not address.startswith("/") or kind not in KINDS:
            return
        param = registry.get(self.armed)
        if param is None:
            self.armed = None
            return
        self._bound = mapping_for(address, kind, param)
        self.say(f"learn: {address} now drives {param.key}")
        self.armed = None

    def check(self, now: float) -> None:
        """Disarm (with a line) once the timeout passes with nothing moved."""
        if self.armed is not None and now > self._deadline:
            self.say(f"learn: no MIDI control moved within {self.timeout_s:g} s; "
                     f"{self.armed} is not bound")
            self.armed = None

    def take(self) -> MappingSpec | None:
        """The new binding, once (the show adds it to its patch and rebuilds its routes)."""
        bound, self._bound = self._bound, None
        return bound

    def write(self, patch_path: Path, spec: MappingSpec) -> threading.Thread:
        """Write `spec` into the patch file on a background thread."""
        def run() -> None:
            with self._write_lock:
                try:
                    add_mapping_to_file(patch_path, spec)
                except Exception as err:  # noqa: BLE001 - the binding still plays
                    self.log("learn write", f"learn: {spec.source} -> {spec.target} plays but "
                                            f"could not be written into {patch_path}: "
                                            f"{type(err).__name__}: {err}")

        thread = threading.Thread(target=run, name="liveGAN-learn", daemon=True)
        thread.start()
        return thread
