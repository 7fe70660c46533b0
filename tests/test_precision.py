"""The precision each device gets: bf16 only where it is native (centrifuge.precision)."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from centrifuge import precision as prec
from centrifuge.errors import ConfigError
from centrifuge.models import create_model
from centrifuge.precision import resolve_precision

ZEN3 = frozenset({"avx", "avx2", "fma"})  # AVX2, no bf16 (AMD Zen 3, Intel before Cooper Lake)
ZEN4 = ZEN3 | {"avx512f", "avx512_bf16"}
SAPPHIRE = ZEN3 | {"avx512f", "amx_bf16", "amx_tile"}


@pytest.mark.parametrize(("flags", "expected"), [(ZEN3, "fp32"), (ZEN4, "bf16"),
                                                 (SAPPHIRE, "bf16"), (frozenset(), "fp32")])
def test_auto_picks_bf16_only_where_native(flags, expected):
    chosen = resolve_precision("auto", "cpu", flags=flags)
    assert chosen.name == expected
    assert chosen.reason.startswith("auto: ")
    assert ("avx512_bf16" in chosen.reason) == ("avx512_bf16" in flags)


def test_explicit_choices_are_kept_and_fp16_needs_a_gpu():
    assert resolve_precision("fp32", "cpu", flags=ZEN4).name == "fp32"
    assert resolve_precision("bf16", "cpu", flags=ZEN4).name == "bf16"
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ConfigError, match="precision must be one of"):
        resolve_precision("bf17", "cpu")


def test_emulated_bf16_warns_once_in_one_line(monkeypatch):
    monkeypatch.setattr(prec, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = resolve_precision("bf16", "cpu", flags=ZEN3)
        resolve_precision("bf16", "cpu", flags=ZEN3)
        resolve_precision("bf16", "cpu", flags=ZEN4)  # native: no warning
    assert first.name == "bf16"  # it still runs what was asked
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "\n" not in message and "slower" in message and "emulated" in message


def test_cpu_flags_and_header_describe_this_machine():
    flags = prec.cpu_flags()
    header = prec.cpu_header()
    assert f"torch {torch.__version__}" in header
    assert ("bf16 native" in header) == any(f in flags for f in prec.NATIVE_BF16_FLAGS)


def test_tiny_model_agrees_in_both_precisions():
    """A real forward in fp32 and in bf16 autocast on a tiny model: the same layers
    within bf16's rounding (on a CPU that emulates bf16 this is slow but still right)."""
    torch.manual_seed(0)
    model = create_model("centrifuge_small", widths=[8, 16], groups=4).eval()
    for p in model.head.parameters():  # the head starts at zero; make the outputs depend
        torch.nn.init.normal_(p, std=0.05)  # on the whole network
    x = torch.rand(1, 3, 4, 16, 16)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", torch.bfloat16):
            low = model(x).float()
    assert (ref - x[:, None]).abs().mean() > 0.01  # not the identity
    assert (low - ref).abs().max() < 0.03


def test_trainer_auto_resolves_per_device(monkeypatch):
    from centrifuge.config import TrainerConfig
    from centrifuge.train.run import trainer_precision

    monkeypatch.setattr(prec, "cpu_flags", lambda: ZEN3)
    assert trainer_precision(TrainerConfig(accelerator="cpu"))[0] == "32-true"
    monkeypatch.setattr(prec, "cpu_flags", lambda: ZEN4)
    assert trainer_precision(TrainerConfig(accelerator="cpu"))[0] == "bf16-mixed"
    assert trainer_precision(TrainerConfig(precision="32-true")) == ("32-true",
                                                                      "trainer.precision")


def test_summary_records_the_precision_used(tmp_path, tiny_video, monkeypatch):
    from centrifuge.separation.files import separate_file
    from centrifuge.separation.inference import Separator

    monkeypatch.setattr(prec, "cpu_flags", lambda: ZEN3)
    model = create_model("centrifuge_small", widths=[8, 16], groups=4)
    sep = Separator(model, progress=False)
    assert sep.precision == "fp32"
    result = separate_file(sep, tiny_video, tmp_path / "out", layers=2)
    summary = json.loads((result.folder / "summary.json").read_text())
    assert summary["settings"]["precision"] == "fp32"
    assert "no AVX512_BF16" in summary["settings"]["precision_reason"]
    assert "no AVX512_BF16" in (result.folder / "report.html").read_text()
