"""ICCV 2019 Tables 1 and 2 and Appendix C at CPU scale: equal data and compute per row.

Every row is trained from scratch here with the same recipe (``configs/tiny.yaml``:
width-1/8 networks, residual outputs, AdamW, cosine schedule), the same number of steps
on the same stream of blends, then evaluated on the same seeded corpus ``val`` blends:

* Table 1 (n = 4): Identity, Centrifuge, Centrifuge-PC, C2 without masking, C2 — PIT
  loss on transparent and occlusion blends (``data.blend=mixed`` for training), with
  parameter counts;
* Table 2 (n = 2, transparent blends whose V¹ has sound): C2, C3 with deterministic
  control, C3 with internal prediction — loss and control accuracy on real val clips
  with sound (:mod:`centrifuge.evaluate.control`); C2 has no pointer, so it "points" at
  output 0 and scores chance;
* Appendix C: control accuracy of the internal-prediction C3 vs the sound's offset.

    python benchmarks/iccv_tables.py --steps 300 --out docs/iccv

writes ``docs/iccv.json``, ``docs/iccv.md`` and ``docs/iccv-offset.png``. At this scale the
numbers say which orderings of the paper show up in a few CPU minutes per model, not
what the architectures reach; docs/iccv.md says which hold.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from centrifuge.config import load_config
from centrifuge.evaluate.blends import evaluate_blends
from centrifuge.evaluate.control import evaluate_control
from centrifuge.losses import control_chance, pairwise_loss
from centrifuge.models import load_model
from centrifuge.separation.inference import Separator
from centrifuge.train.run import train

TABLE1 = [("Centrifuge", "centrifuge_tiny", {}), ("Centrifuge-PC", "centrifuge_pc_tiny", {}),
          ("C2 w/o masking", "c2_tiny", {"gated_levels": []}), ("C2", "c2_tiny", {})]
TABLE2 = [("C2", "c2_tiny", {}),
          ("C3 deterministic", "c3_tiny", {"control": "deterministic"}),
          ("C3 internal", "c3_tiny", {"control": "internal"})]


def _train(name: str, args: dict, n: int, steps: int, out: Path, audio: bool, size: int,
           frames: int) -> Path:
    model_args = json.dumps({"n_outputs": n, "residual": True, **args})
    overrides = [
        f"model.name={name}", f"model.args={model_args}", "data.source=mixed",
        "data.texture_corpus=true", f"data.blend={'transparent' if audio else 'mixed'}",
        f"data.audio={'true' if audio else 'false'}", f"data.frames={frames}",
        f"data.size={size}", "data.val_samples=8", f"trainer.max_steps={steps}",
        f"trainer.val_every={steps}", f"optim.milestones=[{steps}]", f"out_dir={out}",
    ]
    return train(load_config("tiny", overrides), enable_progress_bar=False)


def _params(model) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def _c2_control(sep: Separator, samples: int, frames: int, size: int) -> dict:
    """C2 on the control blends: its loss, and 'pointing' at output 0 (no control)."""
    from centrifuge.data.clips import ClipSampler
    from centrifuge.data.entries import make_entries
    from centrifuge.data.pairs import BlendConfig, BlendedPairs
    from centrifuge.evaluate.control import CONTROL_SEED
    from centrifuge.losses import control_correct, pit_loss

    sampler = ClipSampler(make_entries("corpus", None, "val"), frames=frames, crop=size,
                          train=False, cache=True)
    data = BlendedPairs(sampler, samples, seed=CONTROL_SEED,
                        blend=BlendConfig(blend="transparent"), audio=True)
    loss, correct, chance = [], [], []
    for i in range(len(data)):
        item = data[i]
        layers = sep.separate_segment(item["mix"])
        targets = torch.stack([item["v1"], item["v2"]])[None]
        loss.append(float(pit_loss(layers[None], targets).loss))
        desired = pairwise_loss(item["v1"][None, None], layers[None])[:, 0]
        correct.append(float(control_correct(desired, torch.tensor([0]))[0]))
        chance.append(float(control_chance(desired)[0]))
    return {"loss": sum(loss) / len(loss), "accuracy": sum(correct) / len(correct),
            "chance": sum(chance) / len(chance)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--offsets", type=float, nargs="+", default=[0.0, 0.16, 0.32, 0.64])
    ap.add_argument("--runs", default="runs/iccv")
    ap.add_argument("--out", default="docs/iccv")
    a = ap.parse_args(argv)
    runs = Path(a.runs)
    result = {"steps": a.steps, "samples": a.samples, "frames": a.frames, "size": a.size,
              "table1": [], "table2": [], "offsets": []}
    t0 = time.time()
    for label, name, args in TABLE1:
        run = _train(name, args, 4, a.steps, runs / "t1", False, a.size, a.frames)
        sep = Separator(load_model(run / "model.safetensors"), segment=a.frames, overlap=0.0,
                        max_size=None, progress=False)
        row = {"model": label, "params_m": round(_params(sep.method.model), 3)}
        for blend in ("transparent", "occlusion"):
            ev = evaluate_blends(sep, blend=blend, samples=a.samples, frames=a.frames,
                                 size=a.size, progress=False)
            row[blend] = round(ev.oracle.loss, 4)
            row["identity_" + blend] = round(ev.identity, 4)
        result["table1"].append(row)
        print(row, f"{time.time() - t0:.0f} s", flush=True)
    for label, name, args in TABLE2:
        run = _train(name, args, 2, a.steps, runs / "t2", True, a.size, a.frames)
        sep = Separator(load_model(run / "model.safetensors"), segment=a.frames, overlap=0.0,
                        max_size=None, progress=False)
        if sep.takes_audio:
            ev = evaluate_control(sep, samples=a.samples, frames=a.frames, size=a.size,
                                  progress=False)
            row = {"loss": ev.loss, "accuracy": ev.accuracy, "chance": ev.chance,
                   "identity": ev.identity}
            if args.get("control") == "internal":
                for o in a.offsets:
                    e = evaluate_control(sep, samples=a.samples, frames=a.frames,
                                         size=a.size, offset_s=o, progress=False)
                    result["offsets"].append({"offset_s": o, "accuracy": e.accuracy,
                                              "loss": e.loss})
        else:
            row = _c2_control(sep, a.samples, a.frames, a.size)
        row = {"model": label, "params_m": round(_params(sep.method.model), 3),
               **{k: round(v, 4) for k, v in row.items()}}
        result["table2"].append(row)
        print(row, f"{time.time() - t0:.0f} s", flush=True)
    result["seconds"] = round(time.time() - t0)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    out.with_suffix(".md").write_text(format_tables(result))
    _plot(result, out.with_name(out.name + "-offset.png"))
    print(format_tables(result))
    return 0


def format_tables(r: dict) -> str:
    first = r["table1"][0]
    lines = [f"Equal compute: {r['steps']} steps per model, {r['frames']}×{r['size']}² clips, "
             f"{r['samples']} seeded val blends per column.", "",
             "| Table 1 (n = 4) | loss (transp.) | loss (occl.) | size (M) |", "|---|---|---|---|",
             f"| Identity | {first['identity_transparent']:.4f} | "
             f"{first['identity_occlusion']:.4f} | – |"]
    for row in r["table1"]:
        lines.append(f"| {row['model']} | {row['transparent']:.4f} | {row['occlusion']:.4f} | "
                     f"{row['params_m']:.3f} |")
    lines += ["", "| Table 2 (n = 2) | loss (transp.) | control acc. | chance |",
              "|---|---|---|---|"]
    for row in r["table2"]:
        lines.append(f"| {row['model']} | {row['loss']:.4f} | {100 * row['accuracy']:.1f} % | "
                     f"{100 * row['chance']:.1f} % |")
    lines += ["", "| Appendix C: offset (s) | control acc. | loss |", "|---|---|---|"]
    for row in r["offsets"]:
        lines.append(f"| {row['offset_s']:g} | {100 * row['accuracy']:.1f} % | "
                     f"{row['loss']:.4f} |")
    return "\n".join(lines) + "\n"


def _plot(r: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (pip install -e .[dev]): no plot", file=sys.stderr)
        return
    xs = [o["offset_s"] for o in r["offsets"]]
    ys = [100 * o["accuracy"] for o in r["offsets"]]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(xs, ys, "o-", label="C3 internal prediction")
    chance = [row["chance"] for row in r["table2"] if row["model"] == "C3 internal"]
    if chance:
        ax.axhline(100 * chance[0], color="grey", ls="--", label="chance")
    ax.set_xlabel("audio offset (s)")
    ax.set_ylabel("control accuracy (%)")
    ax.set_title(f"Control vs audio offset ({r['frames']}-frame clips)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
