"""What ``summary.json`` says about one separated video, and the line the CLI prints.

The summary holds the input's facts, the method (its kind and settings), the settings of
the run, each kept layer's statistics, how the pair was selected, the control sound's
pick (C3), the method's per-segment reports (what a training-free method found, and where
it could not separate) and the timings.
"""

from __future__ import annotations

from pathlib import Path


def build_summary(separator, path: Path, info, size, encoder, *, kept: list[int],
                  names: list[str], n_kept: int, select: str, fmt: str, mosaic: bool,
                  chosen: dict | None, elapsed: float, model_time: float) -> dict:
    """The summary of a run of ``separator`` over ``path`` (see the module doc)."""
    n = separator.n_layers
    h, w = size
    frames_done = encoder.frames
    stats = encoder.stats.summary()
    sound = encoder.sound
    pairs = encoder.stats.pairs
    return {
        "input": {"path": str(path), "frames": frames_done, "fps": info.fps,
                  "size": [info.width, info.height], "rotation": info.rotation,
                  "audio": sound is not None,
                  "audio_warning": sound.warning if sound is not None else None},
        "model": separator.method.name,
        "method": separator.method.describe(),
        "settings": {"segment": separator.segment, "overlap": separator.overlap,
                     "overlap_frames": separator.overlap_frames, "shifts": separator.shifts,
                     "device": str(separator.device), "precision": separator.precision,
                     "precision_reason": separator.precision_reason,
                     "max_size": separator.max_size, "processed_size": [w, h],
                     "layers": n_kept, "format": fmt, "mosaic": mosaic},
        "layers": {names[new]: {"model_output": old, **_holds(separator.method, old),
                                **stats[old]}
                   for new, old in enumerate(kept)},
        "selection": {"kept_outputs": kept, "rule": "all" if len(kept) == n else select,
                      "distance": [[round(float(v), 5) for v in row]
                                   for row in pairs.distance()],
                      "recomposition_mse": [[round(float(v), 6) for v in row]
                                            for row in pairs.recomposition_error()]},
        **({"control": chosen} if chosen else {}),
        "timings_s": {"separate": round(elapsed, 2), "model": round(model_time, 2),
                      "encode": round(encoder.busy, 2),
                      "frames_per_s": round(frames_done / max(elapsed, 1e-9), 2),
                      "model_frames_per_s": round(frames_done / max(model_time, 1e-9), 2)},
    }


def segment_reports(reports: list[dict]) -> dict:
    """``summary.json``'s account of what the method found per segment, and a warning
    when some segments could not be separated (the terminal and report.html show it)."""
    if not reports:
        return {}
    failed = [r for r in reports if not r.get("separated", True)]
    warning = None
    if failed:
        warning = (f"{len(failed)} of {len(reports)} segments could not be separated "
                   f"({failed[0]['why']}); their layers are the input itself")
    out = {"segments": reports, "warning": warning}
    chose = [r["chose"] for r in reports if "chose" in r]
    if chose:  # auto: which picture each segment got
        out["chose"] = {name: chose.count(name) for name in dict.fromkeys(chose)}
    return out


def format_result(result) -> str:
    """What ``centrifuge separate`` prints for one separated video."""
    t = result.summary["timings_s"]
    names = [p.name for p in result.layers + result.extras]
    lines = [f"wrote {result.folder}/: {', '.join(names)}, summary.json "
             f"({result.summary['input']['frames']} frames, {t['frames_per_s']} frames/s, "
             f"{t['total']} s)"]
    if result.summary.get("chose"):
        counts = ", ".join(f"{k} {v}" for k, v in result.summary["chose"].items())
        lines.append(f"  {result.summary['model']} chose per segment: {counts} "
                     "(summary.json: segments, with the reasons)")
    if result.summary.get("warning"):
        lines.append(f"  warning: {result.summary['warning']}")
    if "control" in result.summary:
        c = result.summary["control"]
        lines.append(f"  the sound ({c['audio']}) picks model output {c['selected_output']} "
                     f"(control scores {c['scores']}, lowest wins)"
                     + (f": {c['file']}" if c["file"] else ""))
    return "\n".join(lines)


def _holds(method, output: int) -> dict:
    """What an output is, for a method that names its outputs (``occluder``: scene,
    occluder, matte)."""
    labels = getattr(method, "labels", ())
    return {"holds": labels[output]} if output < len(labels) else {}
