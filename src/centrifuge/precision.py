"""Which arithmetic a model runs in: bf16 only where the hardware executes it natively.

On a CPU without AVX512_BF16 or AMX, PyTorch *emulates* bf16: a 2048² matmul runs below
1 GFLOP/s against 114 GFLOP/s in fp32 (AMD Zen 3, docs/performance.md), so a bf16
default made `centrifuge separate` 200× slower there. ``auto`` — the default of every
command that runs a model — picks bf16 where it is native (CPU: ``avx512_bf16`` or
``amx_bf16`` among the CPU flags; CUDA: ``torch.cuda.is_bf16_supported()``) and fp32
otherwise, and says why. An explicit ``bf16`` on a CPU that emulates it still runs, with
one warning.

Everything here is cheap and import-light (no model code), so the CLI, the Separator,
training and the benchmarks share it.
"""

from __future__ import annotations

import functools
import platform
import warnings
from dataclasses import dataclass

import torch

from centrifuge.errors import ConfigError

CHOICES = ("auto", "bf16", "fp32", "fp16")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class Precision:
    """A resolved precision: ``name`` is ``bf16``, ``fp32`` or ``fp16``; ``reason`` says
    why (recorded in summary.json, report.html and training logs)."""

    name: str
    reason: str

    @property
    def dtype(self) -> torch.dtype:
        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.name]

    @property
    def lightning(self) -> str:
        """The matching ``Trainer(precision=...)``."""
        return {"bf16": "bf16-mixed", "fp16": "16-mixed", "fp32": "32-true"}[self.name]


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first CPU's fields of Linux ``/proc/cpuinfo`` (empty where unreadable)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep:
                    fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (x86 ``flags``, Arm ``Features``)."""
    info = _cpuinfo()
    return frozenset((info.get("flags") or info.get("Features") or "").split())


def cpu_description() -> dict[str, str]:
    """CPU model, torch's vector capability and bf16 support, for benchmark headers."""
    name = _cpuinfo().get("model name") or platform.processor() or platform.machine()
    flags = cpu_flags()
    native = [f for f in NATIVE_BF16_FLAGS if f in flags]
    return {"cpu": name, "capability": torch.backends.cpu.get_cpu_capability(),
            "bf16": "native (" + ", ".join(native) + ")" if native else "emulated",
            "torch": torch.__version__, "threads": str(torch.get_num_threads())}


def cpu_header() -> str:
    """One line for a benchmark's header."""
    d = cpu_description()
    return (f"CPU: {d['cpu']} · capability {d['capability']} · bf16 {d['bf16']} · "
            f"torch {d['torch']} · {d['threads']} threads")


def native_bf16(device: torch.device, flags: frozenset[str] | None = None) -> tuple[bool, str]:
    """Whether ``device`` executes bf16 natively, and the evidence."""
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
        return ok, f"GPU {'supports' if ok else 'lacks'} bf16"
    if device.type != "cpu":
        return False, f"{device.type} bf16 support unknown"
    flags = cpu_flags() if flags is None else flags
    found = [f for f in NATIVE_BF16_FLAGS if f in flags]
    if found:
        return True, f"CPU has {'+'.join(found)}"
    return False, "CPU has no AVX512_BF16 or AMX: bf16 would be emulated"


_warned: set[str] = set()


def resolve_precision(requested: str, device: torch.device | str,
                      flags: frozenset[str] | None = None) -> Precision:
    """``auto`` → bf16 where native, else fp32; explicit choices are checked and kept.

    An explicit ``bf16`` on a device that emulates it warns once per process.
    """
    device = torch.device(device)
    if requested not in CHOICES:
        raise ConfigError(f"precision must be one of {', '.join(CHOICES)}, got {requested!r}")
    if requested == "fp16" and device.type != "cuda":
        raise ConfigError("fp16 needs a GPU; use --precision auto, bf16 or fp32 on the CPU")
    native, why = native_bf16(device, flags)
    if requested == "auto":
        return Precision("bf16", f"auto: {why}") if native else Precision("fp32", f"auto: {why}")
    if requested == "bf16" and not native:
        if why not in _warned:
            _warned.add(why)
            warnings.warn(f"--precision bf16: {why}; it will run many times slower than "
                          "fp32 (use --precision auto or fp32)", RuntimeWarning, stacklevel=2)
        return Precision("bf16", f"requested; {why}")
    return Precision(requested, "requested")
