"""The parameter registry: declaration, coercion, smoothing, the inbox, the rate-limited log."""
import threading

import pytest

from liveGAN.params import Inbox, Param, ParamError, ParamValues, RateLimitedLog, Registry


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
    with pytest.raises(ParamError, match="NaN"):
        reg["output/fade"].coerce(float("nan"))


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


def test_inbox_never_blocks_and_counts_drops():
    inbox = Inbox(maxsize=10)
    results = [inbox.post("/a", i) for i in range(15)]
    assert results.count(True) == 10 and inbox.dropped == 5
    drained = inbox.drain(limit=4)
    assert [v for _, v, _ in drained] == [0, 1, 2, 3]
    assert inbox.post("/a", 99)
    assert len(inbox.drain()) == 7


def test_inbox_from_threads():
    inbox = Inbox(maxsize=100_000)
    threads = [threading.Thread(target=lambda: [inbox.post("/x", i) for i in range(1000)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(inbox.drain(limit=10_000)) == 4000


def test_rate_limited_log():
    now = [0.0]
    lines = []
    log = RateLimitedLog(interval=2.0, sink=lines.append, clock=lambda: now[0])
    for _ in range(5):
        log("osc", "bad message")
    log("midi", "unknown device")
    assert lines == ["bad message", "unknown device"]
    now[0] = 3.0
    log("osc", "bad message")
    assert lines[-1] == "bad message (and 4 more like it)"
