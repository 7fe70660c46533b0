"""Plot a training run's curves from its metrics: ``python benchmarks/plot_training.py RUN…``.

    python benchmarks/plot_training.py runs/cpu2-… --out docs/training-cpu2.png

Reads every ``logs/segment-*/metrics.csv`` of each run (a resumed run has several) and
draws, against the optimiser step: the validation loss as a ratio to the Identity
baseline (real val clips, and with ``data.val_synthetic`` the held-out procedural blends
per kind), and the training loss ratio smoothed over 100 steps. Several runs share the
axes (an ablation).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def read_metrics(run: Path) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(run.glob("logs/segment-*/metrics.csv")):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                step = int(row["step"])
                for key, value in row.items():
                    if key not in ("step", "epoch") and value not in ("", None):
                        series.setdefault(key, []).append((step, float(value)))
    if not series:
        raise SystemExit(f"{run}: no logs/segment-*/metrics.csv")
    return series


def smooth(points: list[tuple[int, float]], window: int) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for i in range(len(points)):
        chunk = [v for s, v in points if points[i][0] - window < s <= points[i][0]]
        xs.append(points[i][0])
        ys.append(sum(chunk) / len(chunk))
    return xs, ys


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--labels", nargs="+", help="legend names (default: folder names)")
    p.add_argument("--out", type=Path, required=True, help="the .png to write")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_val, ax_train) = plt.subplots(1, 2, figsize=(11, 4))
    labels = args.labels or [r.name for r in args.runs]
    for run, label in zip(args.runs, labels, strict=True):
        m = read_metrics(run)
        if "val/ratio" in m:
            steps, values = zip(*m["val/ratio"], strict=True)
            ax_val.plot(steps, values, marker="o", label=f"{label}: real val")
        for kind, style in (("transparent", "--"), ("occlusion", ":")):
            key = f"val_synth_{kind}/ratio"  # data.val_synthetic: held-out procedural blends
            if key in m:
                steps, values = zip(*m[key], strict=True)
                ax_val.plot(steps, values, ls=style, marker=".",
                            label=f"{label}: held-out synthetic {kind}")
        if "train/loss" in m and "train/identity" in m:
            ident = dict(m["train/identity"])
            ratio = [(s, v / ident[s]) for s, v in m["train/loss"] if ident.get(s)]
            ax_train.plot(*smooth(ratio, 100), label=label)
    ax_val.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax_train.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax_val.set(title="validation: loss / Identity", xlabel="step", ylabel="ratio")
    ax_train.set(title="training: loss / Identity (100-step mean)", xlabel="step")
    ax_val.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
