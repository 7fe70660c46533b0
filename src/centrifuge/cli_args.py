"""Argument value types and shared options of the ``centrifuge`` command (cli.py).

Each type raises ``argparse.ArgumentTypeError`` with the problem, which the parser turns
into one line and exit status 2.
"""

from __future__ import annotations

import argparse
import math

from centrifuge.errors import CentrifugeError


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"must be between 0 and 0.5, got {value}")
    return value


def size_limit(text: str) -> int:
    value = whole_number(text)
    if value < 0 or 0 < value < 16:
        raise argparse.ArgumentTypeError(f"must be 0 (never downscale) or at least 16, "
                                         f"got {value}")
    return value


def precision_option(p, gpu: bool = True) -> None:
    choices = ["auto", "bf16", "fp32"] + (["fp16"] if gpu else [])
    p.add_argument("--precision", choices=choices, default="auto",
                   help="auto (default): bf16 where the CPU/GPU runs it natively, else fp32; "
                        "or " + ", ".join(choices[1:]))


def device(text: str) -> str:
    from centrifuge.separation.inference import resolve_device

    try:
        return str(resolve_device(text))
    except CentrifugeError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix(f"--device {text}: ")) from None


def at_least(low: int):
    def parse(text: str) -> int:
        value = positive_int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds ≥ 0, got {text}")
    return value


def kept_layers(text: str) -> int | None:
    """``--layers``: ``2`` (the pair ``--select`` picks) or ``all`` (every layer the method
    makes); any other count is refused here, before a model is loaded."""
    if text == "all":
        return None
    if text == "2":
        return 2
    raise argparse.ArgumentTypeError(f"expected 2 or all, got {text!r} (a method makes its "
                                     "own number of layers; --layers 2 keeps a pair of them)")
