"""Model checkpoints as plain data: safetensors weights + JSON metadata in one file.

The safetensors header carries (as strings)::

    format_version  "1"
    model_name      registry name, e.g. "centrifuge_pc"
    model_args      JSON of CentrifugeConfig
    train_config    JSON of the training configuration (or "null")
    metrics         JSON of evaluation numbers (or "null")
    versions        JSON {"centrifuge", "torch", "python"}

Loading rebuilds the model from the registry and loads the weights with
``strict=True``. Nothing is unpickled: a Lightning ``.ckpt`` training checkpoint is read
with ``torch.load(weights_only=True)``, which refuses arbitrary objects.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from centrifuge._version import __version__
from centrifuge.errors import CentrifugeError, ModelLoadingError

FORMAT_VERSION = 1


def _versions() -> dict:
    return {"centrifuge": __version__, "torch": torch.__version__,
            "python": platform.python_version()}


def save_model(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    train_config: dict | None = None,
    metrics: dict | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``model`` (a registered :class:`LayerModel`) to ``path`` atomically.

    Args:
        dtype: store floating-point weights in this dtype (e.g. ``torch.float16`` to halve
            a shipped file); BatchNorm statistics stay fp32. Loading returns fp32.
    """
    path = Path(path)
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        if dtype is not None and v.is_floating_point() and "running_" not in k:
            v = v.to(dtype)
        state[k] = v
    meta = {
        "format_version": str(FORMAT_VERSION),
        "model_name": model.model_name,
        "model_args": json.dumps(model.config.to_dict()),
        "train_config": json.dumps(train_config),
        "metrics": json.dumps(metrics),
        "versions": json.dumps(_versions()),
    }
    tmp = path.with_name(f".{path.name}.partial")
    try:
        save_file(state, str(tmp), metadata=meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_metadata(path: str | os.PathLike) -> dict:
    """The decoded metadata of a checkpoint (without loading its weights)."""
    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelLoadingError(
            f"{path}: not a safetensors checkpoint ({str(e).splitlines()[0][:120]}); pass a "
            "file written by `centrifuge train` or `save_model`"
        ) from None
    if "model_name" not in raw or "model_args" not in raw:
        raise ModelLoadingError(
            f"{path}: safetensors file without centrifuge metadata (model_name, model_args); "
            "it was not written by this project"
        )
    try:
        version = int(raw.get("format_version", "1"))
    except ValueError:
        raise ModelLoadingError(
            f"{path}: corrupt checkpoint metadata (format_version "
            f"{raw.get('format_version')!r} is not a number)") from None
    if version > FORMAT_VERSION:
        raise ModelLoadingError(
            f"{path}: checkpoint format {raw['format_version']} is newer than this "
            f"visual-centrifuge understands ({FORMAT_VERSION}); upgrade the package"
        )
    try:
        meta = {
            "format_version": version,
            "model_name": raw["model_name"],
            **{k: json.loads(raw.get(k, "null"))
               for k in ("model_args", "train_config", "metrics", "versions")},
        }
    except json.JSONDecodeError as e:
        raise ModelLoadingError(f"{path}: corrupt checkpoint metadata ({e})") from None
    if not isinstance(meta["model_args"], dict):
        raise ModelLoadingError(f"{path}: corrupt checkpoint metadata (model_args is a "
                                f"{type(meta['model_args']).__name__}, not a mapping)")
    return meta


def _existing(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ModelLoadingError(f"{path}: no such checkpoint file")
    return path


def _build(model_name: str, model_args: dict, path: Path, shapes: dict | None = None):
    """Rebuild the model; with ``shapes`` (name → shape of the stored weights), check them
    on a weightless copy first, so a damaged file never allocates a wrong-sized model."""
    from centrifuge.models.registry import create_model, restore_init_record, scratch_args

    if not isinstance(model_args, dict):
        raise ModelLoadingError(f"{path}: corrupt checkpoint metadata (model_args is not a "
                                "mapping)")
    # Pretrained encoder weights are already inside the checkpoint: never fetch them.
    args = scratch_args(model_args)
    try:
        if shapes is not None:
            with torch.device("meta"):
                ghost = create_model(model_name, **args)
            _check_shapes(ghost, shapes, path)
        model = create_model(model_name, **args)
    except ModelLoadingError:
        raise
    except CentrifugeError as e:
        raise ModelLoadingError(f"{path}: cannot rebuild its model ({e})") from None
    # ...but the record keeps how the encoder was initialised when it was trained.
    restore_init_record(model, model_args)
    return model


def _check_shapes(model, shapes: dict, path: Path) -> None:
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(own) - set(shapes))
    unexpected = sorted(set(shapes) - set(own))
    wrong = sorted(k for k in set(own) & set(shapes) if own[k] != tuple(shapes[k]))
    if missing or unexpected or wrong:
        example = (missing + unexpected + wrong)[0]
        raise ModelLoadingError(
            f"{path}: weights do not match model {model.model_name} ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(wrong)} of another shape, e.g. {example}); "
            "the file is damaged or its metadata was edited"
        )


def _load_state(model, state: dict, path: Path) -> None:
    own = model.state_dict()
    _check_shapes(model, {k: tuple(v.shape) for k, v in state.items()}, path)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu"):
    """Rebuild and load a model from a ``.safetensors`` checkpoint (or a Lightning
    ``.ckpt`` written by ``centrifuge train``). Returns it in eval mode."""
    path = _existing(path)
    if path.suffix == ".ckpt":
        return _load_lightning(path, device)
    meta = read_metadata(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        model = _build(meta["model_name"], meta["model_args"], path, shapes)
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}  # not a dict
    except (SafetensorError, OSError) as e:
        raise ModelLoadingError(f"{path}: unreadable weights ({e})") from None
    _load_state(model, state, path)
    model.checkpoint_metadata = meta
    return model.to(device).eval()


def _load_lightning(path: Path, device):
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        hp = ckpt["hyper_parameters"]
        name, args = hp["model_name"], hp["model_args"]
        state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items()
                 if k.startswith("model.")}
    except Exception as e:  # any failure means: not our training checkpoint
        raise ModelLoadingError(
            f"{path}: not a centrifuge training checkpoint ({str(e).splitlines()[0][:120]})"
        ) from None
    model = _build(name, args, path)
    _load_state(model, state, path)
    model.checkpoint_metadata = {"model_name": name, "model_args": args,
                                 "train_config": hp.get("train_config"), "metrics": None}
    return model.to(device).eval()


def export_model(source: str | os.PathLike, target: str | os.PathLike, *, dtype: str = "fp32",
                 metrics: str | os.PathLike | None = None, force: bool = False
                 ) -> tuple[Path, str]:
    """``centrifuge export``: a training checkpoint (.ckpt or .safetensors) rewritten as one
    plain-data model file, weights stored in ``dtype`` (fp32, fp16 or bf16; loaded as
    fp32), with ``metrics`` (a JSON file) embedded. Never writes over the source or the
    metrics; an existing target only with ``force``. Returns the target and model name."""
    from centrifuge.errors import OutputExistsError
    from centrifuge.safe_writes import check_output_file

    source, target = Path(source), Path(target)
    if target.suffix != ".safetensors":
        raise CentrifugeError(f"{target}: the target must end in .safetensors")
    check_output_file(target, inputs=[source, metrics])
    if target.exists() and not force:
        raise OutputExistsError(f"{target} exists; pass --force to replace it (never the source)")
    model = load_model(source)
    meta = model.checkpoint_metadata
    embedded = meta.get("metrics")
    if metrics:
        try:
            embedded = json.loads(Path(metrics).read_text())
        except (OSError, ValueError) as e:
            raise CentrifugeError(f"{metrics}: unreadable metrics JSON ({e})") from None
    storage = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    save_model(target, model, train_config=meta.get("train_config"), metrics=embedded,
               dtype=storage)
    return target, model.model_name
