"""A patch's whole parameter registry without starting a show (for check, osc list, docs).

The registry depends on the shader effects (their declared params) and on the model (its
controls), so both are read here: shaders are parsed, not compiled; the model is loaded on the CPU.
"""
from __future__ import annotations

from liveGAN.params import Registry
from liveGAN.patch import Patch, Problem


def patch_registry(patch: Patch) -> tuple[Registry | None, list[Problem]]:
    """The registry a patch would play with, and problems found building it."""
    from liveGAN.engine import standard_params
    from liveGAN.render.chain import FIT_EFFECT, FIT_GROUP
    from liveGAN.render.shaders import find_effect, parse_effect, search_path
    from liveGAN.scene import load_bundle

    problems: list[Problem] = []
    file = str(patch.path)
    try:
        bundle = load_bundle(patch.model, "cpu")
    except Exception as err:
        problems.append(Problem(file, "model", f"a model that does not load ({err})",
                                "a loadable model"))
        bundle = None
    registry = Registry(standard_params(bundle.num_ws if bundle else 18))
    if bundle is not None:
        registry.extend(bundle.controls.params())
    folders = search_path(patch.shader_paths)
    stages = [(f"shaders[{i}].effect", s.effect, s.name) for i, s in enumerate(patch.stages)]
    for where, effect, group in stages + [("output.fit", FIT_EFFECT, FIT_GROUP)]:
        try:
            registry.extend(parse_effect(find_effect(effect, folders)).declared(group))
        except Exception as err:
            problems.append(Problem(file, where, f"{effect!r} ({err})",
                                    "an effect found on the shader search path "
                                    "(see `livegan shaders`)"))
    return registry, problems
