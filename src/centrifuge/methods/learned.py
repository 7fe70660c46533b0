"""A trained network as a separation method: the network, its device and its arithmetic.

:class:`LearnedSeparator` holds what belongs to running a network and nothing else: the
device it sits on, the precision it computes in (``auto``: bf16 where the CPU executes it
natively, fp32 elsewhere; :mod:`centrifuge.precision`), channels-last memory for bf16 on
CPUs (oneDNN's fast layout), autocast around the forward pass, and clamping to [0, 1].
Segmenting a long video is the :class:`~centrifuge.separation.Separator`'s job.

Tensors: a clip ``(3, t, H, W)`` in [0, 1] → ``(n, 3, t, H, W)`` (C3: and scores ``(n,)``).
"""

from __future__ import annotations

import contextlib

import torch

from centrifuge.methods.base import LayerSeparator
from centrifuge.models.base import LayerModel
from centrifuge.models.layers import channels_last_3d
from centrifuge.precision import resolve_precision

# Peak memory of a forward pass per input voxel (frame × pixel): 87 B at 32×112² and
# 172 B at 32×224² for the default model (bf16, CPU; ru_maxrss around one segment), plus
# headroom for larger models.
NETWORK_BYTES_PER_VOXEL = 256


class LearnedSeparator(LayerSeparator):
    """Separate with a trained :class:`~centrifuge.models.base.LayerModel`.

    Args:
        model: the network (its weights already loaded).
        name: the name it was created by (a pretrained name or a checkpoint's stem).
        device: where it runs.
        precision: ``auto``, ``bf16``, ``fp32`` or ``fp16`` (GPU only).
        summary: one line for ``--list-models``.
    """

    kind = "learned"
    bytes_per_voxel = NETWORK_BYTES_PER_VOXEL

    def __init__(self, model: LayerModel, *, name: str | None = None,
                 device: torch.device | str = "cpu", precision: str = "auto",
                 summary: str = ""):
        self.device = torch.device(device)
        chosen = resolve_precision(precision, self.device)
        self.precision, self.precision_reason = chosen.name, chosen.reason
        self.model = model.to(self.device).eval()
        if self.device.type == "cpu" and self.precision == "bf16":
            channels_last_3d(self.model)
        self.name = name or getattr(model, "model_name", "model")
        self.n_layers = model.n_outputs
        self.takes_audio = bool(getattr(model, "takes_audio", False))
        self.summary = summary or f"{getattr(model, 'model_name', 'a network')} checkpoint"

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def separate_clip(self, video: torch.Tensor, spec: torch.Tensor | None = None):
        x = video.to(self.device, torch.float32)[None]
        if self.device.type == "cpu" and self.precision == "bf16":
            x = x.contiguous(memory_format=torch.channels_last_3d)
        with torch.inference_mode(), self._autocast():
            if spec is None:
                return self.model(x)[0].float().clamp_(0, 1).cpu()
            out = self.model.forward_dict(x, spec.to(self.device, torch.float32)[None])
            return (out["outputs"][0].float().clamp_(0, 1).cpu(),
                    out["scores"][0].float().cpu())
