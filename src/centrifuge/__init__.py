"""visual-centrifuge: separate a video into its layers.

Public API::

    from centrifuge import Separator, create_model, list_models, load_model, load_pretrained
    from centrifuge import create_method, list_methods   # every method, learned or not

Videos are ``(B, 3, T, H, W)`` float tensors in [0, 1] inside the library; n output
layers are ``(B, n, 3, T, H, W)``.
"""

from centrifuge._version import __version__
from centrifuge.errors import CentrifugeError  # noqa: E402
from centrifuge.methods import create_method, describe_methods, list_methods  # noqa: E402
from centrifuge.models import create_model, list_models, load_model, save_model  # noqa: E402
from centrifuge.pretrained import list_pretrained, load_pretrained  # noqa: E402
from centrifuge.separation.inference import Separator  # noqa: E402

__all__ = [
    "CentrifugeError",
    "Separator",
    "__version__",
    "create_method",
    "create_model",
    "describe_methods",
    "list_methods",
    "list_models",
    "list_pretrained",
    "load_model",
    "load_pretrained",
    "save_model",
]
