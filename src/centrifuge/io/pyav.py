"""PyAV, imported on first use.

Training from a texture bundle (:mod:`centrifuge.data.bundle`) never decodes video, and
a lent GPU machine has no PyAV (a 36 MB wheel against the 64 MiB a device run carries).
So the ``io`` modules use ``av`` through this proxy: importing the package, building a
model or training on procedural video works without it, and the first read or write of
a file imports it — or says in one line how to install it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from centrifuge.errors import MissingDependencyError


class _LazyModule:
    def __init__(self, name: str, fix: str):
        self._name, self._fix = name, fix
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str):
        if self._module is None:
            try:
                self._module = importlib.import_module(self._name)
            except ImportError as e:
                raise MissingDependencyError(
                    f"reading or writing video needs PyAV, which is not installed ({e}); "
                    f"fix: {self._fix}") from None
        return getattr(self._module, attr)


av = _LazyModule("av", "pip install 'av>=12'")
