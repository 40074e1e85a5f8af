"""Mappings: input range, curves, output range, per-mapping smoothing."""
import pytest

from liveGAN.params import Param, ParamValues, Registry
from liveGAN.show.mappings import Mapping, MappingSpec, apply_curve


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
