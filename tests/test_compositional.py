"""C2 and C3 (ICCV 2019): masks, gating, composition, audio fusion, control losses."""

import pytest
import torch

from centrifuge.errors import ConfigError, ModelLoadingError, ShapeError
from centrifuge.losses import (
    control_chance,
    control_correct,
    control_regression_loss,
    deterministic_loss,
    pit_loss,
)
from centrifuge.models import create_model, load_model, save_model
from centrifuge.models.compositional import channel_groups, default_gated_levels, gate
from centrifuge.models.controllable import AudioNet, fuse_audio
from centrifuge.train.module import initialise_from

AUDIO = {"audio_channels": [4, 8], "regressor_channels": 8}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _randomise_masks(model):
    with torch.no_grad():
        model.mask_head.weight.normal_(0, 0.5)
        model.mask_head.bias.normal_(0, 1)


def test_masks_are_a_softmax_and_gate_their_channel_group():
    model = create_model("c2_tiny", n_outputs=2, n_masks=3).eval()
    _randomise_masks(model)
    with torch.no_grad():
        d = model.forward_dict(torch.rand(2, 3, 8, 32, 32))
    masks = d["masks"]
    assert masks.shape == (2, 3, 8, 32, 32) and masks.min() >= 0
    torch.testing.assert_close(masks.sum(1), torch.ones(2, 8, 32, 32))
    assert masks.std() > 0.01  # not the uniform start any more
    # eq. (1): group c sees mask c only (times m); groups as equal as the channels allow
    groups = channel_groups(10, 3)
    assert groups.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    features = torch.ones(1, 10, 2, 4, 4)
    one_hot = torch.zeros(1, 3, 2, 4, 4)
    one_hot[:, 1] = 1
    gated = gate(features, one_hot)
    assert gated[:, groups == 1].eq(3).all() and gated[:, groups != 1].eq(0).all()


@pytest.mark.parametrize("levels", [["Mixed_4f"], ["Mixed_3c", "Mixed_4f"], ["Mixed_4c"]])
def test_gated_levels_choice_changes_only_those_levels(levels):
    model = create_model("c2_tiny", gated_levels=levels).eval()
    _randomise_masks(model)
    x = torch.rand(1, 3, 8, 32, 32)
    with torch.no_grad():
        gated, _ = model.encode(x)
        plain = model.net.encoder(x)
    first = min(levels, key=list(gated).index)
    for name in gated:
        before_first = list(gated).index(name) < list(gated).index(first)
        same = torch.equal(gated[name], plain[name])
        assert same == before_first, name


def test_uniform_masks_leave_the_encoder_unchanged_and_no_masking_has_no_masks():
    model = create_model("c2_tiny").eval()  # mask head starts at zero: masks are 1/m
    x = torch.rand(1, 3, 8, 32, 32)
    with torch.no_grad():
        gated, _ = model.encode(x)
        plain = model.net.encoder(x)
    for name in gated:
        torch.testing.assert_close(gated[name], plain[name])
    bare = create_model("c2_tiny", gated_levels=[]).eval()
    assert bare.mask_head is None
    with torch.no_grad():
        assert bare.forward_dict(x)["masks"].eq(0.25).all()
    assert default_gated_levels("Mixed_4f") == ("Mixed_3c", "Mixed_4f")
    with pytest.raises(ConfigError, match="gated_levels"):
        create_model("c2_tiny", gated_levels=["Conv3d_1a_7x7"])
    with pytest.raises(ConfigError, match="gated_levels"):
        create_model("c2_tiny", gated_levels=["Mixed_5c"])  # deeper than the endpoint


@pytest.mark.parametrize("residual", [False, True])
def test_outputs_are_the_beta_composition_of_the_layers(residual):
    model = create_model("c2_tiny", n_outputs=3, n_masks=2, residual=residual).eval()
    with torch.no_grad():
        model.net.decoder.head.weight.normal_(0, 0.1)  # residual heads start at zero
        model.beta_head.weight.normal_(0, 1.0)
        x = torch.rand(2, 3, 8, 32, 32)
        d = model.forward_dict(x)
    beta, layers = d["beta"], d["layers"]
    assert beta.shape == (2, 3, 2) and layers.shape == (2, 2, 3, 8, 32, 32)
    torch.testing.assert_close(beta.sum(-1), torch.ones(2, 3))
    expected = torch.einsum("bij,bjcthw->bicthw", beta, layers)  # eq. (2)
    torch.testing.assert_close(d["outputs"], expected, atol=1e-5, rtol=1e-5)


def test_audio_fusion_for_any_length():
    net = AudioNet((4, 8, 8))
    for s in (1, 3, 7, 128, 301):
        feats = net(torch.randn(2, 257, s))
        assert feats.shape[:2] == (2, 8) and feats.shape[2] >= 1
        for size in ((1, 2, 2), (5, 3, 4), (16, 1, 1)):
            fused = fuse_audio(feats, size)
            assert fused.shape == (2, 8, *size)
            # broadcast in space: every pixel of a frame has the same audio feature
            assert torch.equal(fused[..., :1, :1].expand_as(fused), fused)
    with pytest.raises(ShapeError, match="257"):
        net(torch.randn(2, 100, 10))
    model = create_model("c3_tiny", **AUDIO).eval()
    for t, s in ((5, 1), (8, 37), (13, 500)):
        with torch.no_grad():
            d = model.forward_dict(torch.rand(1, 3, t, 30, 20), torch.randn(1, 257, s))
        assert d["outputs"].shape == (1, 4, 3, t, 30, 20) and d["scores"].shape == (1, 4)
    with pytest.raises(ShapeError, match="needs the clip's audio"):
        model(torch.rand(1, 3, 8, 32, 32))
    with pytest.raises(ShapeError, match="takes no audio"):
        create_model("c2_tiny")(torch.rand(1, 3, 8, 32, 32), torch.randn(1, 257, 8))


def test_the_audio_reaches_the_outputs():
    model = create_model("c3_tiny", n_outputs=2, control="deterministic", **AUDIO).eval()
    with torch.no_grad():
        model.net.decoder.head.weight.normal_(0, 0.1)
    audio = torch.randn(1, 257, 32, requires_grad=True)
    model(torch.rand(1, 3, 8, 32, 32), audio)[:, 0].sum().backward()
    assert audio.grad.abs().sum() > 0  # slot 1 depends on the sound (fusion is wired)


def test_centred_control_regression_tells_the_outputs_apart():
    """While the level of the scores is off, eq. (6) pushes every score the same way and
    never learns which output is V¹; the centred term pushes the nearer one down."""
    v1 = torch.zeros(1, 3, 4, 8, 8)
    outputs = torch.stack([v1 + 0.30, v1 + 0.31], 1)  # ℓ(V¹, O) = 0.30, 0.31

    def grad(centred):
        scores = torch.tensor([[0.5, 0.5]], requires_grad=True)
        control_regression_loss(scores, outputs, v1, centred=centred).sum().backward()
        return scores.grad[0]

    plain = grad(0.0)
    assert plain[0] == plain[1]
    g = grad(1.0)
    assert g[0] > g[1]  # a descent step lowers s₁ against s₂: argmin s picks O₁
    scores = torch.tensor([[0.30, 0.31]])  # exact scores: nothing left to learn
    assert control_regression_loss(scores, outputs, v1, centred=1.0).item() < 1e-6


def test_control_regression_has_a_stop_gradient():
    """Eq. (6): the regressor's loss must not change any gradient the outputs get."""
    model = create_model("c3_tiny", n_outputs=2, **AUDIO)
    mix, v1, v2 = torch.rand(3, 2, 3, 8, 32, 32).unbind(0)
    audio = torch.randn(2, 257, 32)

    def grads(with_control: bool) -> dict:
        model.zero_grad()
        d = model.forward_dict(mix, audio)
        loss = pit_loss(d["outputs"], torch.stack([v1, v2], 1)).loss
        if with_control:
            loss = loss + control_regression_loss(d["scores"], d["outputs"], v1,
                                                  centred=1.0).mean()
        loss.backward()
        return {n: None if p.grad is None else p.grad.clone()
                for n, p in model.named_parameters()}

    torch.manual_seed(1)
    plain = grads(False)
    torch.manual_seed(1)
    control = grads(True)
    for name, g in plain.items():
        if name.startswith("regressor."):
            assert g is None and control[name] is not None  # only the control loss trains it
        else:
            assert g is not None, name
            torch.testing.assert_close(control[name], g, msg=name)
    assert any(control[n].abs().sum() > 0 for n in control if n.startswith("regressor."))


def test_deterministic_loss_wants_the_audio_video_in_slot_one():
    v1, v2 = torch.rand(2, 1, 3, 4, 16, 16).unbind(0)
    targets = torch.stack([v1, v2], 1)
    assert deterministic_loss(targets, targets).item() == 0
    swapped = torch.stack([v2, v1], 1)
    assert deterministic_loss(swapped, targets).item() > 0.1
    assert pit_loss(swapped, targets).loss.item() == 0  # PIT does not care which slot
    model = create_model("c3_tiny", n_outputs=2, control="deterministic", **AUDIO).eval()
    assert model.regressor is None
    with torch.no_grad():
        scores = model.forward_dict(torch.rand(2, 3, 8, 32, 32), torch.randn(2, 257, 32))["scores"]
    assert scores.argmin(-1).tolist() == [0, 0]  # deterministic: slot 1 is the answer
    with pytest.raises(ConfigError, match="n_outputs=2"):
        create_model("c3_tiny", n_outputs=4, control="deterministic")
    with pytest.raises(ConfigError, match="control"):
        create_model("c3_tiny", control="psychic")


def test_control_accuracy_threshold_rule():
    losses = torch.tensor([
        [0.10, 0.50, 0.60, 0.70],  # t = 0.12: only output 0 is within it
        [0.10, 0.50, 0.60, 0.70],
        [0.10, 0.11, 0.60, 0.70],  # output 1 is nearly as good: within t, counts as right
        [0.30, 0.30, 0.30, 0.30],  # all equal: t = 0, nothing is strictly below the min
    ])
    chosen = torch.tensor([0, 1, 1, 2])
    assert control_correct(losses, chosen).tolist() == [True, False, True, False]
    torch.testing.assert_close(control_chance(losses), torch.tensor([0.25, 0.25, 0.5, 0.0]))


def test_c2_and_c3_start_close_to_the_centrifuge_they_grow_from(tmp_path):
    source = create_model("centrifuge_tiny", n_outputs=2, residual=True)
    with torch.no_grad():
        source.net.decoder.head.weight.normal_(0, 0.05)
    path = save_model(tmp_path / "src.safetensors", source.eval())
    x, audio = torch.rand(1, 3, 8, 32, 32), torch.randn(1, 257, 32)
    with torch.no_grad():
        expected = source(x)
    for name in ("c2_tiny", "c3_tiny"):
        model = create_model(name, n_outputs=2, residual=True, **(AUDIO if "c3" in name else {}))
        initialise_from(model, str(path))
        model.eval()
        with torch.no_grad():
            out = model(x, audio) if model.takes_audio else model(x)
        # the only difference at the start is β's 0.95/0.05 mix of the two layers
        assert (out - expected).abs().max() < 0.1 * (expected - x[:, None]).abs().max() + 1e-6
    with pytest.raises(ModelLoadingError, match="does not fit"):
        initialise_from(create_model("c2_tiny", n_outputs=2, width=0.25), str(path))


def test_c3_checkpoint_round_trip(tmp_path):
    model = create_model("c3_tiny", n_outputs=2, gated_levels=["Mixed_4f"], **AUDIO).eval()
    path = save_model(tmp_path / "c3.safetensors", model)
    again = load_model(path)
    assert again.config.gated_levels == ("Mixed_4f",) and again.config.audio_channels == (4, 8)
    x, audio = torch.rand(1, 3, 8, 32, 32), torch.randn(1, 257, 32)
    with torch.no_grad():
        torch.testing.assert_close(again.forward_dict(x, audio)["scores"],
                                   model.forward_dict(x, audio)["scores"])


def test_internals_figure_lays_out_fig_6(tmp_path):
    from centrifuge.evaluate.figures import internals_figure

    model = create_model("c2_tiny", n_outputs=2, n_masks=3)
    model.model_name = "c2_tiny"
    sheet = internals_figure(model, torch.rand(3, 8, 32, 48))
    assert sheet.size == (4 * 48, 3 * (32 + 14))  # (m + 1) columns, (n + 1) rows
    with pytest.raises(ConfigError, match="no layers"):
        internals_figure(create_model("centrifuge_tiny"), torch.rand(3, 8, 32, 32))


def test_train_only_the_control_regressor():
    """optim.train_only: the rest of the model is frozen and out of the optimizer."""
    from centrifuge.train.module import CentrifugeModule

    optim = {"name": "adamw", "lr": 1e-3, "schedule": "constant", "train_only": ["regressor"]}
    module = CentrifugeModule("c3_tiny", {"n_outputs": 2, **AUDIO}, optim)
    opt = module.configure_optimizers()["optimizer"]
    in_opt = {id(p) for group in opt.param_groups for p in group["params"]}
    for name, p in module.model.named_parameters():
        assert p.requires_grad == name.startswith("regressor.") == (id(p) in in_opt), name
    d = module.model.forward_dict(torch.rand(1, 3, 8, 32, 32), torch.randn(1, 257, 32))
    assert not d["outputs"].requires_grad and d["scores"].requires_grad
    module.train()  # what Lightning does before each epoch: frozen parts stay in eval
    assert module.model.regressor.training and not module.model.net.training
    with pytest.raises(ConfigError, match="has no part 'decoder'"):
        CentrifugeModule("c3_tiny", {"n_outputs": 2, **AUDIO},
                         {**optim, "train_only": ["decoder"]})


def test_the_number_of_masks_keeps_its_old_name_for_old_checkpoints():
    """C2's m is ``n_masks``; ``n_layers``, its name until 2026-12-07, is still read (the
    shipped c3-cpu-v1 stores it), and giving both is one clear line."""
    from centrifuge.pretrained import load_pretrained

    old = create_model("c2_tiny", n_outputs=2, n_layers=3)
    assert old.config.n_masks == 3 and "n_layers" not in old.config.to_dict()
    assert old.config.to_dict()["n_masks"] == 3  # new checkpoints write the new name
    with pytest.raises(ConfigError, match="same setting"):
        create_model("c2_tiny", n_layers=3, n_masks=2)
    model, _ = load_pretrained("c3-cpu-v1")
    assert model.checkpoint_metadata["model_args"]["n_layers"] == model.config.n_masks == 2
