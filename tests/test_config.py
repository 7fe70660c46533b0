from pathlib import Path

import pytest

from centrifuge.config import list_configs, load_config
from centrifuge.errors import ConfigError
from centrifuge.train.module import lr_factor


def test_defaults_are_the_papers_recipe():
    c = load_config()
    assert (c.optim.name, c.optim.lr, c.optim.momentum) == ("sgd", 0.1, 0.99)
    assert c.trainer.max_steps == 240_000 and c.data.batch_size == 10
    assert (c.data.frames, c.data.size, c.data.alpha) == (32, 112, 0.5)
    lrs = [lr_factor(s, c.optim) * c.optim.lr for s in (0, 99_999, 100_000, 150_000, 239_999)]
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.01])


@pytest.mark.parametrize("name", list_configs())
def test_shipped_configs_load(name):
    c = load_config(name)
    assert c.name == name
    if name.startswith("paper"):
        assert c.optim.name == "sgd" and c.data.batch_size == 10


def test_shipped_configs_include_the_documented_ones():
    assert {"tiny", "cpu", "paper112", "paper224"} <= set(list_configs())


def test_overrides_are_parsed_as_yaml():
    c = load_config("tiny", ["data.frames=8", "optim.milestones=[10, 20]", "data.alpha=[0.25,0.75]",
                             "model.args.n_outputs=2", "trainer.devices=2"])
    assert c.data.frames == 8 and c.optim.milestones == [10, 20]
    assert c.data.alpha == [0.25, 0.75] and c.model.args["n_outputs"] == 2
    assert c.trainer.devices == 2


def test_bad_configs_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="unknown config key 'data.frame'"):
        load_config("tiny", ["data.frame=8"])
    with pytest.raises(ConfigError, match="data.frames must be of type int"):
        load_config("tiny", ["data.frames=lots"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config("tiny", ["data.frames"])
    with pytest.raises(ConfigError, match="known: .*tiny"):
        load_config("huge")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(str(bad))


@pytest.mark.parametrize("override, message", [
    ("data.source=youtube", "data.source must be one of"),
    ("data.synthetic_ratio=1.5", "synthetic_ratio"),
    ("data.augment.speed=[0,2]", "augment.speed"),
    ("data.augment.zoom=[1.2,0.5]", "augment.zoom"),
    ("data.synthetic.sprites=[2,9]", "synthetic.sprites"),
    ("data.reflection=2", "reflection is a share"),
    ("data.blend=glass", "blend must be one of"),
    ("data.augment.wobble=1", "unknown config key 'data.augment.wobble'"),
    ("data.audio_v2=true", "audio_v2 needs data.audio=true"),
    ("data.val_samples=0", "nothing to validate on"),
    ("data.val_samples=-1", "val_samples must be at least 0"),
    ("data.texture_frames=0", "texture_frames must be at least 1"),
    ("trainer.max_minutes=-1", "max_minutes must be ≥ 0"),
    ("trainer.max_minutes=.nan", "max_minutes must be ≥ 0"),
])
def test_new_data_fields_are_checked_at_load(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("cpu2", [override])


def test_a_model_without_weights_is_refused_for_training():
    with pytest.raises(ConfigError, match="nothing to train"):
        load_config("small", ["model.name=static_layer", "model.args={}"])


def test_a_saved_bank_does_not_silently_drop_bank_options():
    for option in ("data.texture_stills=true", "data.texture_frames=24"):
        with pytest.raises(ConfigError, match="saved bank whose images are fixed"):
            load_config("cpu2", ["data.textures=bank.safetensors", option])
    assert load_config("cpu2", ["data.texture_stills=true"]).data.texture_stills


def test_validation_on_held_out_synthetic_blends_alone_is_allowed():
    c = load_config("cpu2", ["data.val_samples=0", "data.val_synthetic=4"])
    from centrifuge.train.datamodule import monitored_metric, val_names

    assert val_names(c.data) == ["transparent", "occlusion"]
    assert monitored_metric(c.data) == "val_synth_transparent/ratio"
    c = load_config("cpu2", ["data.val_synthetic=4"])
    assert val_names(c.data) == ["real", "transparent", "occlusion"]
    assert monitored_metric(c.data) == "val/ratio"


def test_cpu2_recipe_loads_with_its_sections():
    cfg = load_config("cpu2", ["data.source=mixed", "data.augment.speed=[1,3]"])
    assert cfg.model.init == "centrifuge-cpu-v1"
    assert cfg.model.args["n_outputs"] == 2 and (cfg.data.frames, cfg.data.size) == (32, 112)
    assert cfg.data.augment.speed == [1, 3]
    assert cfg.data.blend_config().reflection == cfg.data.reflection


@pytest.mark.parametrize("override", ["data.augment.speed=[1,3]", "data.length_power=0.5",
                                      "data.augment.color_jitter=0.2"])
def test_real_clip_settings_are_refused_for_synthetic_clips(override):
    with pytest.raises(ConfigError, match="change real clips only") as e:
        load_config("small", [override])
    assert "\n" not in str(e.value)
    load_config("small", ["data.source=mixed", override])  # mixed: they apply to real clips


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.parametrize("name", list_configs())
def test_shipped_configs_build_their_model_data_and_init(name):
    """Each shipped recipe builds: its model (real weights), its first training item at a
    small size, and its model.init resolves to weights that load into that model."""
    import torch

    from centrifuge.models.registry import create_model, scratch_args
    from centrifuge.train.datamodule import BlendedDataModule
    from centrifuge.train.module import initialise_from

    c = load_config(name, ["data.frames=8", "data.size=32", "data.val_samples=2",
                           "data.val_synthetic=0", "data.workers=0"])
    if c.data.textures and not Path(c.data.textures).exists():
        c.data.textures = None  # gpu-small's carried bundle: the same bank, built here
    from centrifuge.errors import ModelLoadingError
    from centrifuge.pretrained import RETIRED

    model = create_model(c.model.name, **scratch_args(c.model.args))
    if c.model.init in RETIRED:  # grown from a model no longer shipped: says how to rebuild
        with pytest.raises(ModelLoadingError, match="no longer shipped.*centrifuge train -c"):
            initialise_from(model, c.model.init)
    elif c.model.init:
        initialise_from(model, c.model.init)  # raises if the weights do not fit
    dm = BlendedDataModule(c.data, total_batches=2)
    dm.setup("fit")
    item = dm.train_set[0]
    assert item["mix"].shape == (3, 8, 32, 32)
    assert torch.isfinite(item["mix"]).all() and dm.val_set[0]["mix"].shape == (3, 8, 32, 32)


def test_cooldown_decays_the_rate_linearly_to_its_last_step():
    c = load_config("small", ["optim.cooldown_steps=4", "optim.cooldown_start=1000"])
    factors = [lr_factor(s, c.optim) for s in (999, 1000, 1001, 1003, 1004)]
    assert factors == pytest.approx([1.0, 1.0, 0.75, 0.25, 0.0])
    for bad in (["optim.cooldown_steps=-1"], ["optim.cooldown_steps=1.5"],
                ["optim.cooldown_start=-3"]):
        with pytest.raises(ConfigError, match="cooldown"):
            load_config("small", bad)


def test_sensor_noise_is_a_probability():
    assert load_config("small", ["data.sensor_noise=0.5"]).data.sensor_noise == 0.5
    with pytest.raises(ConfigError, match="sensor_noise"):
        load_config("small", ["data.sensor_noise=2"])
