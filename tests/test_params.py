"""The parameter registry: declaration, coercion, smoothing."""
import threading

import pytest

from liveGAN.params import Param, ParamError, ParamValues, Registry


def make_registry():
    return Registry([
        Param("output", "fade", "float", 1.0, 0.0, 1.0, 0.25, "master fade"),
        Param("latent", "seed", "int", 0, 0, 100, 0.5, "seed"),
        Param("output", "blackout", "bool", 0, 0, 1, 0, "blackout"),
        Param("latent", "next_seed", "trigger", 0, 0, 1, 0, "next"),
    ])


def test_address_and_key():
    p = Param("grade", "hue", "float", 0.0, -1.0, 1.0)
    assert p.key == "grade/hue"
    assert p.address == "/livegan/grade/hue"


def test_coerce_clamps_rounds_and_rejects():
    reg = make_registry()
    assert reg["output/fade"].coerce(3) == 1.0
    assert reg["output/fade"].coerce(-2.5) == 0.0
    assert reg["latent/seed"].coerce(7.6) == 8.0
    assert reg["output/blackout"].coerce(True) == 1.0
    assert reg["output/blackout"].coerce(0.2) == 0.0
    with pytest.raises(ParamError, match="output/fade takes a float, got str"):
        reg["output/fade"].coerce("loud")
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ParamError, match="finite"):
            reg["output/fade"].coerce(bad)


def test_bad_declarations():
    with pytest.raises(ValueError, match="default"):
        Param("a", "b", "float", 2.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="kind"):
        Param("a", "b", "text")
    reg = make_registry()
    with pytest.raises(ValueError, match="twice"):
        reg.declare(Param("output", "fade", "float", 0.5, 0.0, 1.0))
    with pytest.raises(ParamError, match="unknown parameter"):
        reg["nope/nothing"]


def test_smoothing_glides_and_ints_jump():
    values = ParamValues(make_registry())
    values.set_target("output/fade", 0.0)
    values.step(0.25)  # one time constant: 63% of the way
    assert values["output/fade"] == pytest.approx(1.0 - 0.632, abs=0.01)
    for _ in range(200):
        values.step(0.05)
    assert values["output/fade"] == 0.0
    values.set_target("latent/seed", 42)  # ints never glide, whatever smoothing says
    assert values["latent/seed"] == 42
    assert values.typed("latent/seed") == 42 and isinstance(values.typed("latent/seed"), int)
    assert values.last_changed == "latent/seed"


def test_sync_keeps_surviving_values():
    reg = make_registry()
    values = ParamValues(reg)
    values.set_now("output/fade", 0.3)
    reg2 = Registry([reg["output/fade"], Param("grade", "hue", "float", 0.1, -1, 1)])
    values.registry = reg2
    values.sync()
    assert values["output/fade"] == 0.3
    assert values["grade/hue"] == 0.1
    assert "latent/seed" not in values.current
