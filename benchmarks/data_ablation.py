"""Which training data makes a model that separates unseen video? Equal-compute ablation.

    python benchmarks/data_ablation.py                  # 4 arms × 450 steps, then a table
    python benchmarks/data_ablation.py --steps 100      # a quicker, noisier look

Every arm starts from the same weights (centrifuge-cpu-v1, n = 4 outputs) and trains
the same number of steps with the same optimiser (``configs/cpu2.yaml``'s), batch 8 of
16×64² clips, transparent and occlusion blends mixed, α ∈ [0.25, 0.75]; only the data
differ:

* ``corpus`` — corpus train clips only (what v1 was trained on);
* ``synthetic`` — procedural layered video only;
* ``mixed`` — half of the clips each, blends may pair real with synthetic;
* ``mixed+reflection`` — as mixed, half of the transparent blends reflection-style.

Then each arm's final model is scored by ``centrifuge evaluate`` on the corpus val split
(real clips no arm has seen): the oracle pick's and the product pick's ratio to Identity
per blend type. Runs live in ``runs/ablation/<arm>``; an arm already finished is not run
again, so the script resumes after an interruption.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

# What every arm shares beyond cpu2.yaml's optimiser (the v2 recipe itself differs).
COMMON = ["model.args.n_outputs=4", "data.frames=16", "data.size=64", "data.batch_size=8",
          "data.val_samples=48", "data.blend=mixed", "data.alpha=[0.25,0.75]"]

ARMS = {
    "corpus": ["data.source=corpus", "data.reflection=0"],
    "synthetic": ["data.source=synthetic", "data.reflection=0"],
    "mixed": ["data.source=mixed", "data.reflection=0"],
    "mixed+reflection": ["data.source=mixed", "data.reflection=0.5"],
}


def run_arm(name: str, overrides: list[str], steps: int, out: Path) -> Path:
    run = out / name.replace("+", "-")
    model = run / "last.safetensors"
    if model.is_file() and json.loads((run / "done.json").read_text() if (
            run / "done.json").is_file() else "{}").get("steps") == steps:
        return run
    cmd = [sys.executable, "-m", "centrifuge", "train", "-c", "cpu2", "--run-dir", str(run),
           *COMMON, *overrides, f"trainer.max_steps={steps}", f"optim.milestones=[{steps}]",
           f"trainer.val_every={max(50, steps // 3)}"]
    if (run / "checkpoints" / "last.ckpt").is_file():
        cmd = [sys.executable, "-m", "centrifuge", "train", "--resume", str(run)]
    print(f"== {name}: {' '.join(cmd[2:])}", flush=True)
    subprocess.run(cmd, check=True)
    (run / "done.json").write_text(json.dumps({"steps": steps}))
    return run


def evaluate(run: Path, samples: int) -> list[dict]:
    out = run / "eval.json"
    if not out.is_file():
        subprocess.run([sys.executable, "-m", "centrifuge", "evaluate", "-n",
                        str(run / "last.safetensors"), "--samples", str(samples),
                        "--json", str(out)], check=True)
    return json.loads(out.read_text())["results"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=450)
    p.add_argument("--samples", type=int, default=64, help="val blends per blend type")
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    args = p.parse_args(argv)
    out = Path(args.out)
    runs = {name: run_arm(name, ARMS[name], args.steps, out) for name in args.arms}
    rows = [(name, evaluate(run, args.samples)) for name, run in runs.items()]
    print(f"\n{args.steps} steps per arm from centrifuge-cpu-v1; val split, "
          f"{args.samples} blends per type, ratio to Identity (lower is better)\n")
    print("| training data | transparent, oracle | transparent, product | "
          "occlusion, oracle | occlusion, product |")
    print("|---|---|---|---|---|")
    for name, results in rows:
        by = {r["blend"]: r for r in results}
        cells = []
        for blend in ("transparent", "occlusion"):
            r = by.get(blend)
            cells += [f"{r['oracle']['ratio']:.3f}", f"{r['product']['ratio']:.3f}"] if r else [
                "-", "-"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
