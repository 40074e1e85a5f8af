"""The README's generated sections (commands, patch format, OSC addresses) are current."""
from liveGAN import docs


def test_readme_generated_sections_are_current():
    current = docs.README.read_text(encoding="utf-8")
    assert docs.render(current) == current, "README is stale: run `python -m liveGAN.docs`"


def test_osc_section_lists_every_standard_param():
    from liveGAN.show.scene import scene_registry

    section = docs.osc_section()
    for param in scene_registry(18):
        assert f"`{param.address}`" in section
