"""``centrifuge demo`` / ``make demo``: the whole product on real clips, in one command.

1. builds the sample corpus if it is missing;
2. blends two **validation** clips no method was tuned on — a talking head with speech
   (``psychopy-talk``) and a city at night (``city-night``), both at 352×288, each
   seen through its own panning camera (:data:`HEAD_PAN`, :data:`PAN`) — at α = 0.5,
   keeping the first clip's sound;
3. separates the blend with the default method (``auto``, training-free) into the two
   layers ``centrifuge separate --layers 2`` keeps (what a user gets), at most
   :data:`MOTION_MAX_SIZE` px on the longer side (the joint solve is the slow part, and
   the layers come back at the full size); ``-n`` runs another method, or a checkpoint
   of a learned network, on the same blend;
4. puts the blend and the two ground-truth clips beside the outputs and prints a table:
   Identity loss, the best trivial answer's (the blend beside a flat colour or a blur),
   the method's (PIT over the two kept layers), PSNR of each recovered layer, time.

``centrifuge demo --camera-fixed`` is the case that works today, without training: the
talking head stays where it is (a reflection fixed to the camera) while the city pans past
behind it (the camera crosses a larger version of the clip at 3.8 px/frame), and
``static-layer`` (:mod:`centrifuge.methods.static`) separates them.

``centrifuge demo --camera-fixed --reflection`` makes the still head a faint reflection
in glass in front of the panning city (``data.mixing.reflection_blend``, a fixed seed),
as a windscreen shows it, and ``static-reflection`` separates them.

``centrifuge demo --audio`` shows C3 (ICCV 2019): the talking head is blended with a
band playing music (``band-live``), the blend keeps the **speech**, and the C3 model
(``c3-cpu-v1``) writes the layer the speech picks as ``selected.mp4``; the table says
which ground truth that layer is closer to.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from centrifuge.data.camera_fixed import pan
from centrifuge.data.corpus import ensure
from centrifuge.data.mixing import reflection_blend
from centrifuge.errors import ConfigError
from centrifuge.evaluate.baselines import baseline_losses, best_trivial
from centrifuge.evaluate.blends import score_blend
from centrifuge.io import (
    frames_to_tensor,
    probe,
    read_audio,
    read_video,
    tensor_to_frames,
    write_video,
)
from centrifuge.losses import reconstruction_loss
from centrifuge.separation.files import is_owned, separate_file
from centrifuge.separation.inference import Separator

CLIP_WITH_SOUND = "psychopy-talk"
OTHER_CLIP = "city-night"
MUSIC_CLIP = "band-live"
AUDIO_MODEL = "c3-cpu-v1"
STATIC_MODEL = "static-layer"
REFLECTION_MODEL = "static-reflection"
REFLECTION_SEED = 2001  # the glass of the --reflection demo (blur, ghost, strengths)
PAN = (1.5, 3.5)  # the city's pan, pixels per frame (down, right)
HEAD_PAN = (-0.8, -1.2)  # the talking head's, in the two-motion demo (up, left)
MOTION_MAX_SIZE = 176  # the two-motion demo's processing size (longer side)
SIZE = (288, 352)  # psychopy-talk's own size; the city clip is resized and cropped to it
SECONDS = 4.0


def _owned(path: Path) -> bool:
    """What a demo folder holds: separate's outputs plus the mix and the two truths."""
    return is_owned(path) or path.name == "input_mix.mp4" or path.name.startswith("truth_")


def run_demo(out_root="separated", *, model=None, root=None, force=False,
             device="cpu", progress=True, audio=False, precision="auto",
             camera_fixed=False, reflection=False, seconds=SECONDS) -> dict:
    """The demo (see the module docstring); ``audio``: the C3 version; ``camera_fixed``:
    the city pans past a still talking head, which ``reflection`` makes a faint
    reflection in glass; ``seconds`` of each clip."""
    if audio and camera_fixed:
        raise ConfigError("demo: --audio and --camera-fixed are two different demos; "
                          "pick one")
    if reflection and not camera_fixed:
        raise ConfigError("demo: --reflection goes with --camera-fixed (the still head as a "
                          "faint reflection)")
    t0 = time.perf_counter()
    fixed_model = REFLECTION_MODEL if reflection else STATIC_MODEL
    model = model or (AUDIO_MODEL if audio else fixed_model if camera_fixed else "default")
    other_clip = MUSIC_CLIP if audio else OTHER_CLIP
    corpus = ensure(root)  # built on a new machine's first run (one download, then cached)
    # only the seconds shown: the whole clip decoded at 352×288 is gigabytes of frames
    fps = probe(corpus.path(CLIP_WITH_SOUND)).fps
    frames = int(seconds * fps)
    two_motion = not (audio or camera_fixed)
    v1 = _through_camera(corpus.path(CLIP_WITH_SOUND), frames,
                         HEAD_PAN if two_motion else (0.0, 0.0))
    v2 = _through_camera(corpus.path(other_clip), frames,
                         PAN if camera_fixed or two_motion else (0.0, 0.0))
    t = min(len(v1), len(v2))
    v1, v2 = v1[:t], v2[:t]
    if reflection:  # the city seen through glass that faintly reflects the still head
        r = reflection_blend(frames_to_tensor(v2), frames_to_tensor(v1),
                             np.random.default_rng(REFLECTION_SEED))
        v1, v2, mix = (tensor_to_frames(x) for x in (r.reflection, r.transmission, r.mix))
    else:
        mix = ((v1.astype(np.float32) + v2.astype(np.float32)) / 2).round().astype(np.uint8)
    sound = read_audio(corpus.path(CLIP_WITH_SOUND), duration_s=t / fps, rate=44100,
                       mono=False)

    separator = Separator(model, device=device, progress=progress, precision=precision,
                          max_size=MOTION_MAX_SIZE if two_motion else 512)
    if audio and not separator.takes_audio:
        raise ConfigError(f"demo --audio needs a C3 model (e.g. {AUDIO_MODEL}); "
                          f"{separator.method.name} is not controlled by sound")
    with tempfile.TemporaryDirectory() as tmp:
        source = write_video(Path(tmp) / "demo-mix.mp4", mix, fps, audio=sound,
                             audio_rate=44100)
        result = separate_file(separator, source, out_root, force=force, layers=2,
                               owned=_owned)
        shutil.copy(source, result.folder / "input_mix.mp4")
    write_video(result.folder / f"truth_1_{CLIP_WITH_SOUND}.mp4", v1, fps, audio=sound,
                audio_rate=44100)
    write_video(result.folder / f"truth_2_{other_clip}.mp4", v2, fps)

    report = _score_written(result, v1, v2, mix, t)
    report.update(separate_s=result.summary["timings_s"]["total"],
                  total_s=round(time.perf_counter() - t0, 1), other_clip=other_clip,
                  camera_fixed=camera_fixed, reflection=reflection, two_motion=two_motion)
    return report


def _through_camera(path: Path, frames: int, velocity: tuple[float, float]) -> np.ndarray:
    """The first ``frames`` of a clip seen through a :data:`SIZE` window panning at
    ``velocity`` (px per frame) across the clip, scaled up just enough to hold the pan;
    only the frames shown are decoded (the whole clip at 352×288 is gigabytes)."""
    travel = [round(abs(v) * (frames - 1)) + 1 if v else 0 for v in velocity]
    info = probe(path)
    # the height that gives both the window's height and its width room for the pan
    height = max(SIZE[0] + travel[0],
                 math.ceil((SIZE[1] + travel[1]) * info.height / info.width))
    clip = read_video(path, size=height, num_frames=frames).frames
    start_y = (clip.shape[1] - SIZE[0] - travel[0]) // 2 + (travel[0] - 1 if velocity[0] < 0
                                                            else 0)
    start_x = (clip.shape[2] - SIZE[1] - travel[1]) // 2 + (travel[1] - 1 if velocity[1] < 0
                                                            else 0)
    return pan(clip, SIZE, (float(max(start_y, 0)), float(max(start_x, 0))), velocity)


def _channels_first(frames: np.ndarray) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 → ``(3, T, H, W)`` uint8 (a quarter of float32's memory)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2)


def _score_written(result, v1: np.ndarray, v2: np.ndarray, mix: np.ndarray, t: int) -> dict:
    """The demo's table: what was written (what a user sees), decoded back and scored a
    few frames at a time (score_blend takes uint8 frames)."""
    def decoded(path: Path) -> np.ndarray:
        # layers separated at a smaller size (the two-motion demo) are scored scaled back
        # to the blend's, as a user would view them beside it
        return read_video(path, size=SIZE).frames[:t]

    layers = torch.stack([_channels_first(decoded(p)) for p in result.layers])[None]
    truth = torch.stack([_channels_first(v1), _channels_first(v2)])[None]
    s = score_blend(layers, _channels_first(mix)[None], truth)
    report = {
        "folder": str(result.folder), "model": result.summary["model"], "frames": t,
        "identity_loss": float(s.identity[0]), "model_loss": float(s.loss[0]),
        "psnr_layer_1": float(s.psnr[0, 0]), "psnr_layer_2": float(s.psnr[0, 1]),
        "psnr_mix_1": float(s.identity_psnr[0, 0]), "psnr_mix_2": float(s.identity_psnr[0, 1]),
        **_best_trivial(mix, v1, v2),
    }
    if "control" in result.summary:
        control = result.summary["control"]
        picked = frames_to_tensor(decoded(result.folder / "selected.mp4"))
        to_truth = [float(reconstruction_loss(picked, frames_to_tensor(v)))
                    for v in (v1[:t], v2[:t])]
        report.update(selected_output=control["selected_output"], scores=control["scores"],
                      selected_to_speech=to_truth[0], selected_to_other=to_truth[1],
                      picked_speech=to_truth[0] < to_truth[1])
    return report


def _best_trivial(mix: np.ndarray, v1: np.ndarray, v2: np.ndarray,
                  span: int = 16) -> dict:
    """The best trivial answer (the blend beside a flat colour, black, grey or a blur:
    :mod:`centrifuge.evaluate.baselines`) and its PIT loss, scored ``span`` frames at a
    time (float copies of one span only) and averaged by length."""
    totals: dict[str, float] = {}
    t = len(mix)
    for a in range(0, t, span):
        b = min(t, a + span)
        m = frames_to_tensor(mix[a:b])[None]
        truth = torch.stack([frames_to_tensor(v1[a:b]), frames_to_tensor(v2[a:b])])[None]
        for name, loss in baseline_losses(m, truth).items():
            if name != "identity":
                totals[name] = totals.get(name, 0.0) + float(loss[0]) * (b - a) / t
    name, loss = best_trivial(totals)
    return {"trivial": name, "trivial_loss": loss}


def format_report(r: dict) -> str:
    lines = []
    if "selected_output" in r:
        verdict = "the talking head" if r["picked_speech"] else f"the {r['other_clip']} layer"
        lines = ["", f"the speech picks model output {r['selected_output']} (control scores "
                 f"{r['scores']}, lowest wins) -> selected.mp4 is closer to {verdict} "
                 f"(loss {r['selected_to_speech']:.4f} to the speech clip, "
                 f"{r['selected_to_other']:.4f} to {r['other_clip']})"]
    return "\n".join([
        f"demo: {CLIP_WITH_SOUND} (speech"
        + (", still in the frame" if r.get("camera_fixed") else "")
        + (", a faint reflection" if r.get("reflection") else "")
        + (", panning up-left" if r.get("two_motion") else "") + f") + {r['other_clip']}"
        + (" (panning down-right)" if r.get("camera_fixed") or r.get("two_motion") else "")
        + f", {r['frames']} frames at "
        f"{SIZE[1]}x{SIZE[0]}, model {r['model']}",
        "",
        "|          | PIT loss | PSNR layer 1 (dB) | PSNR layer 2 (dB) |",
        "|----------|----------|-------------------|-------------------|",
        f"| Identity | {r['identity_loss']:.4f}   | {r['psnr_mix_1']:17.2f} | "
        f"{r['psnr_mix_2']:17.2f} |",
        f"| trivial  | {r['trivial_loss']:.4f}   | {'the blend beside ' + r['trivial']:>37s} |",
        f"| model    | {r['model_loss']:.4f}   | {r['psnr_layer_1']:17.2f} | "
        f"{r['psnr_layer_2']:17.2f} |",
        "",
        f"separation {r['separate_s']:.1f} s, demo {r['total_s']:.1f} s; outputs in "
        f"{r['folder']}/ (layers, mosaic.mp4, contact.png, input_mix.mp4, truth_*.mp4)",
        *lines,
    ])
