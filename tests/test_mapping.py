"""Mappings: input range, curves, output range, per-mapping smoothing."""
import pytest

from liveGAN.params import Param, ParamValues, Registry
from liveGAN.mappings import Mapping, MappingSpec, apply_curve


def test_curves_hit_their_ends_and_bend():
    for curve in ["linear", "exp", "log", "smooth", "square", "sqrt"]:
        assert apply_curve(curve, 0.0) == pytest.approx(0.0)
        assert apply_curve(curve, 1.0) == pytest.approx(1.0)
    assert apply_curve("exp", 0.5) < 0.5 < apply_curve("log", 0.5)
    assert apply_curve("invert", 0.25) == 0.75
    assert apply_curve("linear", 7.0) == 1.0


def test_mapping_scales_to_range_and_smooths():
    param = Param("latent", "speed", "float", 0.25, 0.0, 4.0, 0.0)
    values = ParamValues(Registry([param]))
    spec = MappingSpec("/fader/1", "latent/speed", input=(0, 127), range=(0.0, 2.0))
    mapping = Mapping(spec, param)
    mapping.receive(127)
    mapping.step(0.016, values)
    assert values["latent/speed"] == pytest.approx(2.0)
    smooth = Mapping(MappingSpec("/f", "latent/speed", smoothing=0.5), param)
    smooth.receive(1.0)  # default range: the param's own, 0..4
    smooth.step(0.0, values)
    smooth.receive(0.0)
    smooth.step(0.5, values)
    assert values["latent/speed"] == pytest.approx(4.0 * 0.3679, abs=0.01)


# -- curves, dead zone, invert, modes, combining (issue 11) -----------------------------------

from liveGAN.mappings import MappingSet, inverse_curve  # noqa: E402


def _values(*params):
    return ParamValues(Registry(params))


SPEED = Param("latent", "speed", "float", 0.0, 0.0, 4.0, 0.0)


def test_long_curve_names_match_their_shapes():
    assert apply_curve("exponential", 0.5) == pytest.approx((2.718281828 ** 2 - 1) / (2.718281828 ** 4 - 1))
    assert apply_curve("logarithmic", 0.5) > 0.75
    assert apply_curve("s", 0.25) == pytest.approx(0.15625)
    assert apply_curve("s", 0.5) == pytest.approx(0.5)


@pytest.mark.parametrize("curve", ["linear", "exponential", "logarithmic", "s", "square", "sqrt"])
def test_inverse_curves_undo_the_curve(curve):
    for x in (0.0, 0.1, 0.33, 0.5, 0.9, 1.0):
        assert inverse_curve(curve, apply_curve(curve, x)) == pytest.approx(x, abs=1e-9)


def test_invert_and_dead_zone_at_the_bottom():
    mapping = Mapping(MappingSpec("/f", "latent/speed", dead_zone=0.1, invert=True), SPEED)
    assert mapping.shape(0.05) == pytest.approx(4.0)     # inside the dead zone: rest, inverted
    assert mapping.shape(1.0) == pytest.approx(0.0)
    assert mapping.shape(0.55) == pytest.approx(4.0 * (1 - 0.5))  # (0.55-0.1)/0.9 = 0.5


def test_dead_zone_around_the_middle_of_a_bend():
    param = Param("grade", "hue", "float", 0.0, -1.0, 1.0)
    mapping = Mapping(MappingSpec("/midi/1/bend", "grade/hue", input=(-1.0, 1.0),
                                  dead_zone=0.05), param)
    assert mapping.shape(0.04) == pytest.approx(0.0)
    assert mapping.shape(-0.08) == pytest.approx(0.0)
    assert mapping.shape(1.0) == pytest.approx(1.0)
    assert mapping.shape(-1.0) == pytest.approx(-1.0)
    assert 0.0 < mapping.shape(0.5) < 0.5


def test_attack_and_release_glide_at_their_own_speeds():
    values = _values(SPEED)
    mapping = Mapping(MappingSpec("/f", "latent/speed", attack=0.0, release=1.0), SPEED)
    mapping.receive(0.0)
    mapping.step(0.0, values)
    mapping.receive(1.0)
    mapping.step(0.1, values)
    assert values.target["latent/speed"] == pytest.approx(4.0)  # attack 0: at once
    mapping.receive(0.0)
    mapping.step(1.0, values)
    assert values.target["latent/speed"] == pytest.approx(4.0 * 0.3679, abs=0.01)


def test_relative_mode_adds_changes_to_where_the_param_is():
    values = _values(SPEED)
    values.set_now("latent/speed", 1.0)
    mapping = Mapping(MappingSpec("/midi/1/cc/16", "latent/speed", mode="relative"), SPEED)
    assert mapping.discrete
    for _ in range(3):
        mapping.receive(0.125)       # three steps of 1/8 of the input range
    mapping.step(0.016, values)
    assert values.target["latent/speed"] == pytest.approx(1.0 + 3 * 0.5)
    values.set_target("latent/speed", 0.2)   # something else moved it: changes start there
    mapping.receive(-0.25)
    mapping.step(0.016, values)
    assert values.target["latent/speed"] == pytest.approx(0.0)  # clamped at the bottom


def test_toggle_and_gate_modes_for_notes():
    blackout = Param("output", "blackout", "bool", 0, 0, 1)
    values = _values(blackout)
    toggle = Mapping(MappingSpec("/midi/1/note/36", "output/blackout", mode="toggle"), blackout)
    for velocity, expected in ((0.8, 1.0), (0.0, 1.0), (0.3, 0.0), (0.0, 0.0)):
        toggle.receive(velocity)
        toggle.step(0.016, values)
        assert values.target["output/blackout"] == expected
    gate = Mapping(MappingSpec("/midi/1/note/37", "latent/speed", mode="gate",
                               range=(0.5, 3.0)), SPEED)
    values = _values(SPEED)
    gate.receive(0.1)
    gate.step(0.016, values)
    assert values.target["latent/speed"] == 3.0
    gate.receive(0.0)
    gate.step(0.016, values)
    assert values.target["latent/speed"] == 0.5


def test_a_trigger_fires_on_any_press_and_not_on_release():
    trigger = Param("latent", "next_seed", "trigger")
    mapping = Mapping(MappingSpec("/midi/1/note/60", "latent/next_seed"), trigger)
    assert mapping.receive(0.05) is True
    assert mapping.receive(0.0) is False


def test_several_sources_sum_or_take_the_largest():
    registry = Registry([SPEED, Param("audio", "level", "float", 0, 0, 1, readonly=True)])
    values = ParamValues(registry)
    specs = [MappingSpec("/fader", "latent/speed", range=(0.0, 2.0), combine="sum"),
             MappingSpec("audio/level", "latent/speed", range=(0.0, 1.0))]
    mappings = MappingSet(specs, registry)
    fader = mappings.by_address["/fader"][0]
    fader.receive(0.5)
    values.set_now("audio/level", 0.25)
    mappings.step(0.016, values, 0.0, set())
    assert values.target["latent/speed"] == pytest.approx(1.0 + 0.25)
    specs[0].combine = "max"
    mappings = MappingSet(specs, registry)
    mappings.by_address["/fader"][0].receive(0.5)
    mappings.step(0.016, values, 0.0, set())
    assert values.target["latent/speed"] == pytest.approx(1.0)
    values.set_now("audio/level", 1.0)
    mappings.step(0.016, values, 0.0, set())
    assert values.target["latent/speed"] == pytest.approx(1.0)
    values.set_now("audio/level", 0.0)
    specs[1].range = (0.0, 4.0)
    mappings = MappingSet(specs, registry)
    values.set_now("audio/level", 0.75)
    mappings.step(0.016, values, 0.0, set())
    assert values.target["latent/speed"] == pytest.approx(3.0)


def test_lfo_sources_follow_the_beat():
    from liveGAN.clock import Lfo

    registry = Registry([SPEED])
    values = ParamValues(registry)
    mappings = MappingSet([MappingSpec("lfo/wobble", "latent/speed")], registry,
                          {"wobble": Lfo("saw", beats=4.0)})
    mappings.step(0.016, values, 2.0, set())
    assert values.target["latent/speed"] == pytest.approx(2.0)   # half-way up the saw
    mappings.step(0.016, values, 5.0, set())
    assert values.target["latent/speed"] == pytest.approx(1.0)


def test_patch_reads_the_new_mapping_keys_and_refuses_bad_ones(tmp_path):
    from liveGAN.patch import read_patch

    path = tmp_path / "p.toml"
    path.write_text("""
[model]
preset = "stand-in"
[[lfos]]
name = "wobble"
shape = "triangle"
beats = 8
[[mappings]]
source = "/midi/1/cc/16"
target = "latent/speed"
mode = "relative"
invert = true
dead_zone = 0.02
attack = 0.1
release = 0.5
curve = "s"
combine = "sum"
[[mappings]]
source = "lfo/wobble"
target = "latent/speed"
combine = "max"
[[mappings]]
source = "lfo/nothing"
target = "latent/speed"
mode = "sideways"
""")
    patch, problems = read_patch(path)
    spec = patch.mappings[0]
    assert (spec.mode, spec.invert, spec.dead_zone, spec.attack, spec.release, spec.curve,
            spec.combine) == ("relative", True, 0.02, 0.1, 0.5, "s", "sum")
    text = "\n".join(str(p) for p in problems)
    assert "mappings[1].combine" in text and "'sum' like mappings[0]" in text
    assert "mappings[2].source" in text and "lfo/wobble" in text
    assert "mappings[2].mode" in text
    assert patch.lfos[0].shape == "triangle" and patch.lfos[0].beats == 8
