"""Separation methods: every way the project separates a clip, learned or training-free.

Each is a :class:`LayerSeparator` (``methods/base.py``): a name, its number of layers,
whether it takes audio, its preferred segment length, whether its output order is
fixed, ``separate_clip`` and ``describe``. :func:`create_method` makes one by name,
:func:`describe_methods` lists them with their kind.

* ``learned.py`` — :class:`LearnedSeparator`: a trained network, its device and precision;
* ``static.py`` — ``static-layer`` / ``static-reflection``: a layer fixed to the camera.
"""

from centrifuge.methods.base import LayerSeparator
from centrifuge.methods.learned import LearnedSeparator
from centrifuge.methods.registry import (
    create_method,
    describe_methods,
    list_methods,
    register_method,
)
from centrifuge.methods.static import StaticConfig, StaticLayer

__all__ = [
    "LayerSeparator",
    "LearnedSeparator",
    "StaticConfig",
    "StaticLayer",
    "create_method",
    "describe_methods",
    "list_methods",
    "register_method",
]
