"""centrifuge_small's prior (models/small.py ``prior=``): a frozen Kinetics-400 I3D trunk
whose features join the encoder — loaded from the corpus once, frozen in training, and
carried by the saved model."""

from __future__ import annotations

import pytest
import torch

from centrifuge.errors import ConfigError
from centrifuge.models import create_model, load_model
from centrifuge.models.checkpoint import save_model

SMALL = {"widths": [8, 16, 32], "groups": 4}


@pytest.mark.parametrize("bad", [{"prior": "Mixed_5c"}, {"prior": "Conv3d_2c_3x3",
                                                         "encoder_init": "imagenet"}])
def test_prior_config_errors(bad):
    with pytest.raises(ConfigError, match="prior|encoder_init"):
        create_model("centrifuge_small", **SMALL, **bad)


def test_the_prior_is_kinetics_starts_at_identity_and_stays_frozen(real_corpus):
    from centrifuge.models.kinetics import kinetics400_state_dict

    torch.manual_seed(0)
    model = create_model("centrifuge_small", prior="Mixed_3c", **SMALL)
    kinetics = kinetics400_state_dict()
    trunk = {k: v.clone() for k, v in model.prior.state_dict().items()}
    assert all(torch.equal(v, kinetics[k]) for k, v in trunk.items())
    # taps at the U-Net level of their stride, the deeper one at the deepest level
    assert model.taps == {"Conv3d_2c_3x3": 2, "Mixed_3c": 2}
    x = torch.rand(2, 3, 8, 32, 32)
    assert torch.allclose(model(x), x[:, None].expand(-1, 2, -1, -1, -1, -1), atol=1e-6)

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    target = torch.rand(2, 2, 3, 8, 32, 32)
    for _ in range(2):
        loss = (model(x) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model.prior.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in trunk.items()), "prior changed"
    assert all(p.abs().sum() > 0 for p in model.tap_proj.parameters()), "taps did not learn"


def test_a_saved_prior_model_loads_without_the_corpus(real_corpus, tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = create_model("centrifuge_small", prior="Conv3d_2c_3x3", **SMALL)
    for p in model.tap_proj.parameters():
        torch.nn.init.normal_(p, std=0.3)
    for p in model.head.parameters():
        torch.nn.init.normal_(p, std=0.3)
    path = save_model(tmp_path / "prior.safetensors", model)
    monkeypatch.setenv("CENTRIFUGE_HOME", str(tmp_path / "no-corpus"))  # no weights here
    loaded = load_model(path)
    assert loaded.config.prior == "Conv3d_2c_3x3"
    x = torch.rand(1, 3, 8, 32, 32)
    model.eval()
    assert torch.equal(loaded(x), model(x))


def test_a_config_check_builds_a_prior_model_without_the_corpus(tmp_path, monkeypatch):
    from centrifuge.config import load_config

    monkeypatch.setenv("CENTRIFUGE_HOME", str(tmp_path / "no-corpus"))  # no weights here
    config = load_config("small", ["model.args.prior=Mixed_3c"])
    assert config.model.args["prior"] == "Mixed_3c"
