"""`make fuzz`: random mutations of the robustness battery against the separate contract.

Each round takes a valid clip and damages it at random (truncation, byte flips, spliced
headers, zeroed runs), gives it a random awkward name, and checks that `centrifuge
separate` ends with exit 0 and complete outputs or exit 2 and one line, leaving nothing
partial (``tests/helpers/battery.py`` holds the contract).

    python benchmarks/fuzz.py [--rounds 200] [--seed 0]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers"))
from battery import Case, build_cases, pattern, run_case, sound  # noqa: E402

from centrifuge.io import write_video  # noqa: E402
from centrifuge.models import create_model, save_model  # noqa: E402

NAMES = ["...", "..", ".", " ", "ünï cödé", "a" * 200, "tab\tname", "-lead", "semi;colon",
         "quote'\"", "back\\slash", "star*"]


def mutate(raw: bytes, rng) -> bytes:
    data = bytearray(raw)
    kind = rng.integers(4)
    if kind == 0:
        return bytes(data[: rng.integers(0, len(data))])
    if kind == 1:
        for k in rng.integers(0, len(data), rng.integers(1, 200)):
            data[k] = rng.integers(0, 256)
    elif kind == 2:
        a = rng.integers(0, len(data))
        data[a : a + rng.integers(1, 2000)] = bytes(rng.integers(1, 2000))
    else:
        cut = rng.integers(0, len(data))
        data = data[cut:] + data[:cut]
    return bytes(data)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(0)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = str(save_model(tmp / "tiny.safetensors",
                               create_model("centrifuge_tiny", n_outputs=2).eval()))
        cases = build_cases(tmp / "battery")
        for i, case in enumerate(tqdm(cases, desc="battery")):
            _, _, problem = run_case(case, tmp / f"b{i}", model)
            if problem:
                problems.append(f"battery {case.name}: {problem}")
        seeds = write_video(tmp / "seed.mp4", pattern(16, 24, 32), 10, audio=sound(1.6))
        raw = seeds.read_bytes()
        for r in tqdm(range(args.rounds), desc="mutations"):
            name = NAMES[rng.integers(len(NAMES))] + [".mp4", ".mkv", ".mov", ""][rng.integers(4)]
            if name in (".", ".."):
                name += ".mp4"  # a file cannot be called . or ..
            path = tmp / f"r{r}" / name
            path.parent.mkdir()
            path.write_bytes(mutate(raw, rng))
            argv = ["-o", "{out}", "--", str(path)]
            _, _, problem = run_case(Case(f"round {r}", [path], argv), tmp / f"o{r}", model)
            if problem:
                problems.append(f"round {r} ({name!r}): {problem}")
    print(f"{len(cases)} battery cases + {args.rounds} mutations: {len(problems)} problems")
    for line in problems:
        print("  " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
