"""Arms over seeds: is one recipe better than another on real video, beyond seed noise?

Trains every arm at every seed with ``benchmarks/curve.py`` (equal time, two jobs side
by side with one thread each), scores each model with ``centrifuge evaluate`` on the
real val **and** the real train split (transparent blends at the training size), and
prints per arm the mean and spread over seeds, the difference to the first arm paired
by seed, and the rank agreement of the two splits (:mod:`centrifuge.evaluate.compare`).

    G='{"coherence": 0.7, "palette": 0.5}'
    python benchmarks/seeds.py --out runs/seeds-prior --seeds 0 1 2 3 \\
        --arm plain '{}' --arm prior '{"prior": "Mixed_3c"}' -- \\
        --held 128 --eval-every 240 --synthetic "$G" --held-synthetic "$G" --match-colour

Why: a 20-minute model's real-val ratio moves by ±0.02 with its seed (docs/prior.md,
"Four seeds"): a gain counts when its paired difference on the val split is well
outside its spread. The train split's clips are *seen* — the generator paints with
their frames — so its column is a memory check, not a second test: a model far better
there than on val has learnt the 12 scenes (docs/prior.md, "The train clips are
memorised").

Everything lands in ``--out`` (``ARM-sSEED.safetensors``, its log, ``curve.tsv``,
``eval-SPLIT-ARM-sSEED.json``); a job whose file is already there is skipped, so an
interrupted comparison resumes where it stopped, across sessions.
Arguments after ``--`` go to every ``curve.py`` run unchanged; ``--arm-flags
NAME='FLAGS'`` adds curve.py flags to one arm only, e.g. a training texture bank:
``--arm diverse '{}' --arm-flags 'diverse=--textures runs/bank.safetensors'``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from centrifuge.evaluate.compare import compare_arms, split_agreement
from centrifuge.models.checkpoint import read_metadata

HERE = Path(__file__).resolve().parent
SPLITS = ("val", "train")
SPLIT_NAMES = {"val": "val", "train": "train (seen: a memory check)"}


def run_all(jobs: list[tuple[str, list[str], Path]], parallel: int) -> None:
    """Run (name, command, log) jobs, ``parallel`` at a time, one thread each; stop at
    the first failure (its log named)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    pending, running, t0 = list(jobs), [], time.perf_counter()
    while pending or running:
        while pending and len(running) < parallel:
            name, cmd, log = pending.pop(0)
            print(f"[{time.perf_counter() - t0:6.0f} s] start {name}", flush=True)
            running.append((name, log, subprocess.Popen(
                cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)))
        time.sleep(2)
        for job in list(running):
            name, log, proc = job
            if proc.poll() is None:
                continue
            running.remove(job)
            if proc.returncode:
                for _, _, other in running:
                    other.terminate()
                sys.exit(f"{name} failed (exit {proc.returncode}); see {log}")
            print(f"[{time.perf_counter() - t0:6.0f} s] done  {name}", flush=True)


def result(path: Path) -> dict:
    """The one blend kind's results of a ``centrifuge evaluate --json`` file."""
    (only,) = json.loads(path.read_text())["results"]
    return only


def best_trivial(path: Path) -> str:
    """The best trivial baseline of an evaluation and its ratio to Identity."""
    r = result(path)
    return f"{r['best_trivial']} {r['baselines'][r['best_trivial']] / r['identity']:.3f}"


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--arm", nargs=2, action="append", metavar=("NAME", "ARGS_JSON"),
                   required=True, help="an arm: its name and curve.py --args; the first is "
                                       "the reference")
    p.add_argument("--arm-flags", action="append", default=[], metavar="NAME=FLAGS",
                   help="curve.py flags for one arm only (one quoted string)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--minutes", type=float, default=20)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--samples", type=int, default=256, help="real blends per split")
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--pick", choices=("product", "oracle"), default="product",
                   help="with n > 2 outputs, which pair is scored: the one `centrifuge "
                        "separate --layers 2` keeps, or the best by the ground truth")
    args = p.parse_args(argv)
    names = [name for name, _ in args.arm]
    if len(set(names)) != len(names):
        p.error(f"arm names must differ, got {names}")
    for name, a in args.arm:
        try:
            json.loads(a)
        except json.JSONDecodeError as e:
            p.error(f"arm {name}: its arguments are not JSON ({e}); "
                    "e.g. '{\"prior\": \"Mixed_3c\"}'")
    arm_flags = {name: [] for name in names}
    for item in args.arm_flags:
        name, sep, flags = item.partition("=")
        if not sep or name not in arm_flags:
            p.error(f"--arm-flags {item!r}: expected NAME=FLAGS with NAME one of {names}")
        arm_flags[name] += shlex.split(flags)
    args.out.mkdir(parents=True, exist_ok=True)

    def weights(name, seed):
        return args.out / f"{name}-s{seed}.safetensors"

    train = [(f"train {name} seed {seed}",
              [sys.executable, str(HERE / "curve.py"), "--minutes", str(args.minutes),
               "--frames", str(args.frames), "--size", str(args.size), "--threads", "1",
               "--seed", str(seed), "--args", a, "--label", f"{name} seed {seed}",
               "--csv", str(args.out / "curve.tsv"), "--save", str(weights(name, seed)),
               *extra, *arm_flags[name]],
              args.out / f"{name}-s{seed}.log")
             for seed in args.seeds for name, a in args.arm if not weights(name, seed).exists()]
    run_all(train, args.parallel)

    def scored(split, name, seed):
        return args.out / f"eval-{split}-{name}-s{seed}.json"

    evaluate = [(f"evaluate {name} seed {seed} on {split}",
                 [sys.executable, "-m", "centrifuge", "evaluate", "-n", str(weights(name, seed)),
                  "--frames", str(args.frames), "--size", str(args.size),
                  "--blend", "transparent", "--samples", str(args.samples),
                  "--split", split, "--json", str(scored(split, name, seed))],
                 args.out / f"eval-{split}-{name}-s{seed}.log")
                for seed in args.seeds for name in names for split in SPLITS
                if not scored(split, name, seed).exists()]
    run_all(evaluate, args.parallel)

    scores = {(name, seed, split): result(scored(split, name, seed))[args.pick]["ratio"]
              for seed in args.seeds for name in names for split in SPLITS}
    print(f"\n{len(args.seeds)} seeds ({', '.join(map(str, args.seeds))}), "
          f"{args.frames}×{args.size}², {args.minutes:g} min each; real transparent blends, "
          f"{args.samples} per split, the {args.pick} pair; ratio to Identity (best trivial "
          "baseline: " + ", ".join(f"{s} {best_trivial(scored(s, names[0], args.seeds[0]))}"
                                   for s in SPLITS) + ")")
    # held-out synthetic: with n > 2 outputs, the pair that --pick scores
    print("\n| arm | blends (mean) | held-out synthetic | " +
          " | ".join(f"real {SPLIT_NAMES[s]}: mean ± spread | − {names[0]} (paired)"
                     for s in SPLITS) +
          " |\n|---|---|---|" + "---|---|" * len(SPLITS))
    rows = {(r["arm"], r["split"]): r for r in compare_arms(scores, names[0])}
    held_key = "kept_pair_ratio" if args.pick == "product" else "held_out_ratio"
    for name in names:
        m = [read_metadata(weights(name, seed))["metrics"] or {} for seed in args.seeds]
        cells = [f"{sum(x.get('blends', 0) for x in m) / len(m):.0f}",
                 f"{sum(x.get(held_key, math.nan) for x in m) / len(m):.3f}"]
        for split in SPLITS:
            r = rows[(name, split)]
            one = len(r["seeds"]) < 2  # no spread from one seed
            cells.append(f"{r['mean']:.3f}" + ("" if one else f" ± {r['spread']:.3f}"))
            cells.append("—" if name == names[0] or not r["paired"] else
                         f"{r['diff']:+.3f}" + ("" if r["paired"] < 2 else
                                                f" ± {r['diff_spread']:.3f}"))
        print(f"| {name} | " + " | ".join(cells) + " |")
    rho = split_agreement(scores)
    print(f"\nrank agreement of the splits over {len(names) * len(args.seeds)} models "
          f"(Spearman): " + ("n/a (fewer than 3 models)" if math.isnan(rho) else
                             f"{rho:+.2f} (the train clips are seen: a check of memory, "
                             "not of transfer)"))


if __name__ == "__main__":
    main()
