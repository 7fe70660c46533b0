"""Models: Inception-I3D encoder, U-Net decoder, Centrifuge and predictor-corrector.

Layer tensors are ``(B, n, 3, T, H, W)`` in [0, 1] (unclamped during training).
"""

from centrifuge.models.centrifuge import (
    Centrifuge,
    CentrifugeConfig,
    LayerModel,
    PredictorCorrector,
)
from centrifuge.models.checkpoint import load_model, save_model
from centrifuge.models.i3d import InceptionI3d
from centrifuge.models.registry import create_model, list_models, register_model

__all__ = [
    "Centrifuge",
    "CentrifugeConfig",
    "InceptionI3d",
    "LayerModel",
    "PredictorCorrector",
    "create_model",
    "list_models",
    "load_model",
    "register_model",
    "save_model",
]
