"""The separation methods (methods/): one protocol for learned and training-free ones, a
registry that says which kind each name is, and a Separator that leaves the network's
arithmetic to the method that owns it."""

from __future__ import annotations

import pytest
import torch

from centrifuge.cli import main
from centrifuge.errors import CentrifugeError, ModelLoadingError
from centrifuge.methods import (
    LayerSeparator,
    LearnedSeparator,
    StaticLayer,
    create_method,
    describe_methods,
    list_methods,
)
from centrifuge.models import LayerModel, create_model
from centrifuge.pretrained import PRETRAINED
from centrifuge.separation.inference import Separator


def test_every_name_is_one_kind_and_creates_a_method_of_it():
    rows = describe_methods()
    kinds = {name: kind for name, kind, _ in rows}
    assert set(kinds) == set(list_methods())
    assert kinds["static-layer"] == kinds["static-reflection"] == "training-free"
    assert all(kinds[name] == "learned" for name in PRETRAINED)
    for name in ("static-layer", "static-reflection", "default"):
        method = create_method(name)
        assert isinstance(method, LayerSeparator) and method.kind == kinds[name]
        assert method.describe()["kind"] == kinds[name]
    # no training-free method is a network
    assert not isinstance(create_method("static-layer"), torch.nn.Module)


def test_list_models_prints_each_kind(capsys):
    assert main(["separate", "--list-models"]) == 0
    lines = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    assert lines["static-reflection"] == "training-free"
    assert lines["c3-cpu-v1"] == "learned"
    # the default is the training-free auto, not a network
    assert lines["default"] == lines["auto"] == "training-free"
    assert create_method("default").name == "auto"


def test_a_retired_model_says_how_to_rebuild_it():
    with pytest.raises(ModelLoadingError, match=r"no longer shipped.*centrifuge train -c cpu2"):
        create_method("centrifuge-cpu-v2")
    with pytest.raises(ModelLoadingError, match=r"no longer shipped.*centrifuge train -c cpu3"):
        create_method("centrifuge-cpu-v3")  # the learned default before auto
    with pytest.raises(CentrifugeError, match="unknown model 'nope'; methods: .*static-layer"):
        create_method("nope")


class _Echo(LayerModel):
    """A network that reports the dtype it computed in (as a layer's value)."""

    n_outputs = 2
    multiple = (1, 1, 1)

    def __init__(self):
        torch.nn.Module.__init__(self)
        self.scale = torch.nn.Parameter(torch.ones(()))

    def _forward(self, video):
        code = 1.0 if torch.is_autocast_enabled("cpu") else 0.0
        return torch.stack([video * self.scale, torch.full_like(video, code)], 1)


@pytest.mark.parametrize("precision, autocast", [("fp32", 0.0), ("bf16", 1.0)])
def test_the_learned_method_owns_the_networks_arithmetic(precision, autocast):
    method = LearnedSeparator(_Echo(), name="echo", precision=precision)
    assert method.precision == precision
    out = method.separate_clip(torch.rand(3, 4, 8, 8))
    assert out.dtype == torch.float32 and out.shape == (2, 3, 4, 8, 8)
    assert torch.all(out[1] == autocast)
    # the Separator reports the method's choice, whatever the method
    assert Separator(method, progress=False).precision == precision
    assert Separator("static-layer", progress=False).precision == "fp32"


class _Swapper(LayerSeparator):
    """Layer 0 is all zeros in odd calls and all ones in even ones: a permutation-free
    answer whose order flips from one segment to the next."""

    name, segment = "swapper", 4

    def __init__(self, fixed_order: bool):
        self.fixed_order, self.calls = fixed_order, 0

    def separate_clip(self, video, spec=None):
        self.calls += 1
        first = torch.zeros_like(video) if self.calls % 2 else torch.ones_like(video)
        return torch.stack([first, 1 - first])


def test_a_fixed_order_method_is_never_reordered():
    """static-layer's layer 0 is the still one in every segment; matching segments by
    their shared frames could swap them where a segment sees no motion. A method whose
    order is fixed is stitched as it comes; a permutation-free one is matched up."""
    video = torch.rand(3, 12, 6, 6)
    matched = Separator(_Swapper(False), overlap=0.25, progress=False).separate(video)
    assert matched[0].max() == 0 and matched[1].min() == 1
    kept = Separator(_Swapper(True), overlap=0.25, progress=False).separate(video)
    assert kept[0, :, :3].max() == 0 and kept[0, :, 4:6].min() == 1


def test_the_method_picks_the_segment_unless_told():
    class Long(StaticLayer):
        segment = 48

    assert Separator(Long(), progress=False).segment == 48
    assert Separator(Long(), segment=16, progress=False).segment == 16
    assert Separator(create_model("centrifuge_tiny"), progress=False).segment == 32
