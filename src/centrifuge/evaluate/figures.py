"""The ICCV 2019 Fig. 6 view of a C2/C3 model: masks, layers, β and outputs of one frame.

Row 0: the input frame and the m masks (white = 1). Row i + 1: the terms ``β_ij·L_j``
of output i, one per layer j, and their sum ``O_i`` — how each output is composed.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from centrifuge.errors import ConfigError

LABEL = 14  # pixels of caption above each tile


def _tile(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` or ``(H, W)`` in [0, 1] → uint8 ``(H, W, 3)``."""
    if image.ndim == 2:
        image = image[None].expand(3, -1, -1)
    return (image.clamp(0, 1).permute(1, 2, 0) * 255).round().byte().numpy()


def internals_figure(model, video: torch.Tensor, audio: torch.Tensor | None = None,
                     frame: int | None = None) -> Image.Image:
    """Fig. 6 for ``video`` ``(3, T, H, W)`` in [0, 1] (and a C3's spectrogram)."""
    if not hasattr(model, "beta_head"):
        raise ConfigError(f"model {model.model_name} has no layers and β to show; "
                          "use a C2 or C3 model")
    with torch.inference_mode():
        extra = () if audio is None else (audio[None],)
        parts = model.eval().forward_dict(video[None].float(), *extra)
    t = video.shape[1] // 2 if frame is None else frame
    masks, layers, beta, outputs = (parts[k][0] for k in ("masks", "layers", "beta", "outputs"))
    n, m = beta.shape
    h, w = video.shape[2:]
    cols, rows = m + 1, n + 1
    sheet = Image.new("RGB", (cols * w, rows * (h + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)

    def put(row: int, col: int, image: torch.Tensor, label: str) -> None:
        x, y = col * w, row * (h + LABEL)
        sheet.paste(Image.fromarray(_tile(image)), (x, y + LABEL))
        draw.text((x + 2, y + 1), label, fill="black")

    put(0, 0, video[:, t], "input V")
    for j in range(m):
        put(0, j + 1, masks[j, t], f"mask {j + 1}")
    for i in range(n):
        for j in range(m):
            label = f"b{i + 1}{j + 1}={beta[i, j]:.2f} L{j + 1}"
            put(i + 1, j, beta[i, j] * layers[j, :, t], label)
        put(i + 1, m, outputs[i, :, t], f"O{i + 1}")
    return sheet
