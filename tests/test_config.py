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
    with pytest.raises(ConfigError, match="shipped: "):
        load_config("huge")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(str(bad))
