"""Lets transformers import when an installed torchvision does not match torch.

transformers imports torchvision whenever it is installed; a wheel built for another torch fails
at import ("operator torchvision::nms does not exist") and takes every transformers model with
it. The fixture scripts that call this use Pillow image processors and plain torch models only, so
they tell transformers torchvision is absent when it cannot be imported.
"""

import sys


def guard_torchvision():
    try:
        import torchvision  # noqa: F401
        return
    except Exception:  # a broken wheel raises RuntimeError, not ImportError
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
    import transformers.utils as tu
    import transformers.utils.import_utils as iu

    def absent():
        return False

    for mod in (iu, tu):
        mod.is_torchvision_available = absent
        mod.is_torchvision_v2_available = absent
