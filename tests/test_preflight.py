"""What `livegan run` says at start: which devices render and generate, and what to expect."""
from __future__ import annotations

import pytest

from liveGAN.show.preflight import StartReport


def report(**changes) -> StartReport:
    fields = dict(renderer="llvmpipe (LLVM 15.0.6, 256 bits)", generator="torch cpu (1 torch "
                  "thread, fp32)", generator_ms=10.0, chain_ms=8.0, fps=60.0,
                  output_size=(960, 540), work_size=384)
    fields.update(changes)
    return StartReport(**fields)


def test_a_machine_that_keeps_up_gets_no_advice():
    lines = report().lines()
    assert len(lines) == 2
    assert lines[0] == ("rendering: llvmpipe (LLVM 15.0.6, 256 bits) (software OpenGL on the "
                        "CPU); generating: torch cpu (1 torch thread, fp32)")
    assert "generator 10.0 ms/frame (~100 frames/s)" in lines[1]
    assert "shader chain 8.0 ms/frame at 960x540 (effects at 384x384)" in lines[1]
    assert lines[1].endswith("expect ~60 fps shown of the patch's 60")


def test_a_slow_chain_names_what_to_lower():
    lines = report(chain_ms=40.0).lines()
    assert "expect ~25 fps shown of the patch's 60" in lines[1]
    assert lines[2] == ("to show 60 fps: lower [output] work_size (now 384), size or fps, use "
                        "fewer effects, or a GPU for OpenGL")
    gpu = report(renderer="NVIDIA H200/PCIe/SSE2", chain_ms=40.0).lines()
    assert "(OpenGL)" in gpu[0] and gpu[2].endswith("or a faster GPU")


def test_a_slow_generator_is_explained():
    lines = report(generator_ms=125.0).lines()
    assert len(lines) == 3
    assert lines[2].startswith("the generator makes ~8 frames/s and the display blends")
    assert 'a GPU ([model] device = "cuda")' in lines[2]
    # Slower than a display that is itself slow, but as fast as it: nothing to say.
    assert len(report(generator_ms=40.0, chain_ms=40.0).lines()) == 3


@pytest.mark.parametrize("offline", [False, True])
def test_the_show_says_it_once_at_start(tmp_path, offline):
    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show
    from liveGAN.standin import stand_in_bundle

    patch = tmp_path / "patch.toml"
    patch.write_text('[model]\npreset = "stand-in"\n[output]\nsize = [64, 48]\nfps = 30\n'
                     '[[shaders]]\neffect = "grade"\n')
    said: list[str] = []
    engine = Show(patch, RunOptions(headless=True, frames=20, no_osc=True, watch=False,
                                    offline=offline),
                  print_fn=said.append, bundle=stand_in_bundle(32, cost_ms=30.0))
    engine.run()
    devices = [line for line in said if line.startswith("rendering: ")]
    if offline:  # a render reports its progress instead
        assert devices == []
        return
    assert len(devices) == 1
    renderer = str(engine.view.ctx.info["GL_RENDERER"]) if hasattr(engine, "view") else ""
    assert renderer in devices[0] and "generating: torch cpu" in devices[0]
    timing = next(line for line in said if line.startswith("measured at start: "))
    generator_ms = float(timing.split("generator ")[1].split(" ms")[0])
    assert generator_ms >= 29.0  # the stand-in sleeps 30 ms a frame
    assert "at 64x48 (effects at 64x64)" in timing
