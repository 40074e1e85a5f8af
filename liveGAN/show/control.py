"""The first half of the show's update: events from the inbox become parameter values.

Place in the data flow: inbox -> **control** -> parameter targets, fired triggers, actions ->
(the rest of the update: clock, latent, generator request). One address table says what each
address means:
- `/livegan/<group>/<name>`: set that parameter (clamped; a trigger fires on anything but 0);
- `/<group>/<name>` of a read-only parameter: the value its source publishes;
- a mapping's source address: the mapping shapes the value onto its target;
- an action (`/livegan/quit`, `/livegan/toggle <param>`, and what owners add): called with the
  event's values.
A mapping whose source is a parameter (`audio/level`) reads it every frame. The address table
also tells the inbox which addresses are continuous (newest value wins) and the sources which
addresses exist.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

from liveGAN.params import OSC_PREFIX, Param, ParamError, ParamValues, Registry
from liveGAN.patch import Patch
from liveGAN.mappings import Mapping, MappingSet

Action = Callable[[tuple], None]


@dataclass
class _Route:
    """What one address drives."""

    param: Param | None = None          # a settable param at its /livegan/... address
    published: Param | None = None      # a read-only param's value, from its source
    mappings: list[Mapping] = field(default_factory=list)
    action: Action | None = None

    @property
    def kind(self) -> str:
        """The address's kind for sources (see liveGAN.show.link.ADDRESS_KINDS)."""
        if self.action is not None:
            return "action"
        if self.param is not None:
            return self.param.kind
        if self.published is not None:
            return "any"
        return "any"

    @property
    def continuous(self) -> bool:
        """Only the newest value matters (no trigger, no action downstream)."""
        if self.action is not None or (self.param is not None and self.param.kind == "trigger"):
            return False
        return not any(m.discrete for m in self.mappings)


class Control:
    """Parameter values and everything that moves them, owned by the show's thread."""

    def __init__(self, log: Callable[[str, str], None]) -> None:
        self.log = log
        self.registry = Registry()
        self.values = ParamValues(self.registry)
        self.actions: dict[str, Action] = {
            f"{OSC_PREFIX}/toggle": self._toggle,
        }
        self._routes: dict[str, _Route] = {}
        self._mappings = MappingSet((), self.registry)
        # LFOs (name -> value at a beat) that mappings may take as their source; the show
        # sets them from the patch (liveGAN.clock.lfo_table).
        self.lfos: dict[str, Callable[[float], float]] = {}
        self._fired: set[str] = set()
        self.events = 0

    # -- a new scene (start, reload, shader edit) --------------------------------------------

    def adopt(self, registry: Registry, patch: Patch, previous: Patch | None) -> None:
        """Make `registry` and `patch` current. On a reload only what the edit changed is
        applied, so live moves aren't undone; a value the edit removed goes back to its
        default."""
        self.registry = registry
        self.values.registry = registry
        self.values.sync()
        old_values = previous.values if previous is not None else {}
        for key, value in patch.values.items():
            if previous is None or old_values.get(key) != value:
                self._set_now(key, value, patch)
        for key in old_values:
            if key not in patch.values and key in registry:
                self.values.set_now(key, registry[key].default)
        self._build_routes(patch)

    def _set_now(self, key: str, value, patch: Patch) -> None:
        try:
            self.values.set_now(key, value)
        except ParamError as err:  # checked before adopting; a last guard for the show
            self.log("patch value", f"{patch.path}: {patch.value_keys.get(key, key)}: {err}")

    def _build_routes(self, patch: Patch) -> None:
        routes: dict[str, _Route] = {}
        for param in self.registry:
            if param.readonly:
                routes.setdefault(f"/{param.key}", _Route()).published = param
            else:
                routes.setdefault(param.address, _Route()).param = param
        self._mappings = MappingSet(patch.mappings, self.registry, self.lfos)
        for address, mappings in self._mappings.by_address.items():
            routes.setdefault(address, _Route()).mappings.extend(mappings)
        for address, action in self.actions.items():
            routes.setdefault(address, _Route()).action = action
        self._routes = routes

    def address_kinds(self) -> dict[str, str]:
        """Every address the show acts on -> its kind (for sources and the link)."""
        kinds = {address: route.kind for address, route in self._routes.items()}
        for param in self.registry:
            if param.readonly:
                kinds[param.address] = "readonly"  # so OSC can say why it can't be set
        return kinds

    def waking(self) -> Iterable[str]:
        """The addresses a performer moves (a settable parameter, a mapping's source, an
        action): their arrival wakes the show at once. A published stream alone does not."""
        return [address for address, route in self._routes.items()
                if route.published is None or route.mappings]

    def continuous(self) -> Iterable[str]:
        """The addresses where only the newest value matters (for the inbox)."""
        return [address for address, route in self._routes.items() if route.continuous]

    # -- every frame ---------------------------------------------------------------------

    def apply(self, latest: dict[str, tuple], events: Iterable[tuple[str, tuple]]) -> None:
        """Apply a frame's drained events (call `step` next: it returns the fired triggers)."""
        self._fired = set()
        for address, values in latest.items():
            self._route(address, values)
        for address, values in events:
            self._route(address, values)

    def _route(self, address: str, values: tuple) -> None:
        route = self._routes.get(address)
        if route is None:
            self.log("unknown address", f"ignored {address[:120]!r}: no parameter, mapping "
                                        "or action has that address")
            return
        self.events += 1
        if route.action is not None:
            try:
                route.action(values)
            except Exception as err:  # noqa: BLE001 - a bad command is not the show's end
                self.log(f"action {address}", f"{address}: {type(err).__name__}: {err}")
            return
        value = values[0] if values else 1.0
        if route.param is not None:
            self._set(route.param, value, address)
        elif route.published is not None:
            self._publish(route.published, value, address)
        for mapping in route.mappings:
            self._feed(mapping, value, address)

    def _set(self, param: Param, value, address: str) -> None:
        if param.kind == "trigger":
            if value:  # 0 is a button's release, not a second press
                self._fired.add(param.key)
                self.values.last_changed = param.key
            return
        try:
            self.values.set_target(param.key, value)
        except ParamError as err:
            self.log("input value", f"{address}: {err}")

    def _publish(self, param: Param, value, address: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            self.log("published value", f"{address}: not a finite number: {value!r}")
            return
        self.values.set_now(param.key, value)

    def _feed(self, mapping: Mapping, value, address: str) -> None:
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            self.log("mapping value", f"mapping {address}: not a finite number: {value!r}")
            return
        if mapping.receive(float(value)):
            self._fired.add(mapping.param.key)

    def step(self, dt: float, beat: float = 0.0) -> set[str]:
        """Feed parameter- and LFO-sourced mappings (LFOs at `beat`), then move mappings and
        smoothed values one frame; returns the triggers fired this frame."""
        self._mappings.step(dt, self.values, beat, self._fired)
        self.values.step(dt)
        return self._fired

    # -- built-in actions -----------------------------------------------------------------

    def _toggle(self, values: tuple) -> None:
        """`/livegan/toggle <param>`: flip a bool parameter (a key, a note in toggle mode)."""
        key = values[0] if values else None
        param = self.registry.get(key) if isinstance(key, str) else None
        if param is None or param.kind != "bool" or param.readonly:
            raise ParamError(f"toggle takes the key of a bool parameter, got {key!r}")
        self.values.set_target(key, 0.0 if self.values[key] >= 0.5 else 1.0)
