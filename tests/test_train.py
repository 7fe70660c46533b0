"""Training end to end on tiny real videos written in tmp_path (Lightning, CPU)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from centrifuge.cli import main
from centrifuge.config import load_config
from centrifuge.io import write_video
from centrifuge.models import load_model
from centrifuge.train.callbacks import StepProgressBar
from centrifuge.train.run import config_for_resume, train

from conftest import moving_pattern

HELPERS = Path(__file__).parent / "helpers"


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    for i in range(4):
        write_video(root / f"v{i}.mp4", moving_pattern(24, 40, 48, seed=i), fps=10)
    return root


def overrides(videos, out, steps=2, **extra):
    items = {
        "data.source": "folder", "data.root": str(videos), "data.frames": 8, "data.size": 32,
        "data.batch_size": 2, "data.workers": 0, "data.cache": "true", "data.val_samples": 4,
        "trainer.max_steps": steps, "trainer.val_every": steps, "trainer.log_every": 1,
        "trainer.accelerator": "cpu", "trainer.devices": 1, "out_dir": str(out),
    }
    items.update(extra)
    return [f"{k}={v}" for k, v in items.items()]


def weights(path):
    return load_file(str(path))


def test_two_step_run_writes_a_usable_model(videos, tmp_path):
    config = load_config("tiny", overrides(videos, tmp_path))
    run = train(config, enable_progress_bar=False)
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "checkpoints", "logs",
                                               "model.safetensors", "last.safetensors"}
    model = load_model(run / "model.safetensors")
    assert model.model_name == "centrifuge_tiny"
    assert model.checkpoint_metadata["train_config"]["data"]["frames"] == 8
    # the steps really trained: the same seed's untrained model has other weights
    import lightning as L

    from centrifuge.models.registry import create_model, scratch_args

    L.seed_everything(config.trainer.seed, verbose=False)
    start = create_model(config.model.name, **scratch_args(config.model.args)).state_dict()
    trained = load_model(run / "last.safetensors").state_dict()
    changed = [k for k, v in start.items() if v.is_floating_point()
               and not torch.equal(v, trained[k])]
    assert len(changed) > len(start) // 2, f"only {len(changed)} of {len(start)} changed"
    metrics = (run / "logs" / "segment-0" / "metrics.csv").read_text()
    assert "val/loss" in metrics and "val/identity" in metrics
    # the Lightning checkpoint also loads (weights_only) and matches the last weights
    from_ckpt = load_model(run / "checkpoints" / "last.ckpt")
    last = weights(run / "last.safetensors")
    assert all(torch.equal(v, last[k]) for k, v in from_ckpt.state_dict().items())


@pytest.mark.slow
def test_resume_continues_exactly(videos, tmp_path):
    straight = train(load_config("tiny", overrides(videos, tmp_path / "a", steps=4)),
                     enable_progress_bar=False)
    first = train(load_config("tiny", overrides(videos, tmp_path / "b", steps=2)),
                  enable_progress_bar=False)
    resumed_cfg = config_for_resume(first, ["trainer.max_steps=4", "trainer.val_every=4"])
    class FirstUpdate(StepProgressBar):
        seen = None

        def on_train_batch_end(self, *args):
            super().on_train_batch_end(*args)
            self.seen = self.seen or dict(self.train_progress_bar.format_dict)

    bar = FirstUpdate()
    resumed = train(resumed_cfg, resume=first, extra_callbacks=[bar])
    assert resumed == first
    # the bar's rate counts this segment's steps (n - initial), not every step since 0
    assert (bar.seen["n"], bar.seen["initial"]) == (3, 2)
    assert sorted(p.name for p in (first / "logs").iterdir()) == ["segment-0", "segment-1"]
    a, b = weights(straight / "last.safetensors"), weights(resumed / "last.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run diverged"


def test_a_branch_cools_down_without_touching_the_run(videos, tmp_path, capsys):
    first = train(load_config("tiny", overrides(videos, tmp_path / "a", steps=2,
                                                **{"optim.schedule": "constant",
                                                   "optim.warmup_steps": 0})),
                  enable_progress_bar=False)
    before = (first / "checkpoints" / "last.ckpt").read_bytes()
    branch = tmp_path / "cool"
    assert main(["train", "--resume", str(first), "--run-dir", str(branch),
                 "optim.cooldown_steps=2", "trainer.val_every=100"]) == 0
    saved = yaml.safe_load((branch / "config.yaml").read_text())
    assert saved["optim"]["cooldown_start"] == 2 and saved["trainer"]["max_steps"] == 4
    assert (first / "checkpoints" / "last.ckpt").read_bytes() == before
    assert sorted(p.name for p in (first / "logs").iterdir()) == ["segment-0"]
    rows = list(csv.DictReader(open(branch / "logs" / "segment-0" / "metrics.csv")))
    lrs = [float(r["lr-AdamW/pg1"]) for r in rows if r.get("lr-AdamW/pg1")]
    lr = saved["optim"]["lr"]
    assert lrs == pytest.approx([lr, lr / 2])  # steps 2 and 3: it went on from step 2
    assert load_model(branch / "model.safetensors").model_name == "centrifuge_tiny"
    assert main(["train", "--resume", str(first), "--run-dir", str(branch)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.slow
def test_sigint_saves_a_checkpoint_that_resumes(videos, tmp_path):
    args = overrides(videos, tmp_path / "runs", steps=400, **{"trainer.val_every": 400})
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "centrifuge", "train", "-c", "tiny", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    deadline = time.time() + 120
    metrics = None
    while time.time() < deadline:
        found = list((tmp_path / "runs").glob("*/logs/segment-0/metrics.csv"))
        if found and found[0].read_text().count("\n") >= 4:
            metrics = found[0]
            break
        time.sleep(0.5)
    assert metrics is not None, "training did not start"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    run = metrics.parents[2]
    ckpt = run / "checkpoints" / "last.ckpt"
    assert ckpt.is_file() and "centrifuge train --resume" in out
    step = torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"]
    assert 0 < step < 400
    # resume to a few steps past the interruption, and compare with an uninterrupted run
    target = step + 2
    assert main(["train", "--resume", str(run), f"trainer.max_steps={target}",
                 f"trainer.val_every={target}"]) == 0
    straight = train(load_config("tiny", overrides(videos, tmp_path / "straight", steps=target)),
                     enable_progress_bar=False)
    a, b = weights(run / "last.safetensors"), weights(straight / "last.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_sigterm_to_the_process_group_saves_a_checkpoint(videos, tmp_path):
    # A scheduler (or `pkill -f`) signals every process of the job, DataLoader workers
    # too: a worker killed under the trainer used to abort it before anything was saved.
    args = overrides(videos, tmp_path / "runs", steps=400, **{"trainer.val_every": 400,
                                                              "data.workers": 1})
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "centrifuge", "train", "-c", "tiny", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    started = False
    while time.time() < deadline and not started:
        found = list((tmp_path / "runs").glob("*/logs/segment-0/metrics.csv"))
        started = bool(found) and found[0].read_text().count("\n") >= 4
        time.sleep(0.5)
    assert started, "training did not start"
    os.killpg(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-3000:]
    ckpt = found[0].parents[2] / "checkpoints" / "last.ckpt"
    assert ckpt.is_file() and "centrifuge train --resume" in out
    assert 0 < torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"] < 400


@pytest.mark.slow
def test_ddp_two_processes_gloo(videos, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(HELPERS / "ddp_worker.py"), str(tmp_path), str(videos)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    i0, i1 = set(ranks[0]["indices"]), set(ranks[1]["indices"])
    assert len(i0) == len(i1) == 6 and not i0 & i1  # 3 steps x batch 2, disjoint
    assert ranks[0]["weights"] == ranks[1]["weights"]


def test_train_cli_bad_config_is_one_line(tmp_path, capsys):
    assert main(["train", "-c", "tiny", "data.frames=many"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "data.frames" in err


def test_init_from_a_four_layer_model_into_two(videos, tmp_path):
    """model.init: every weight from the source; a smaller head takes its first layers."""
    from centrifuge.models import create_model, save_model

    torch.manual_seed(0)
    four = create_model("centrifuge_tiny", n_outputs=4, residual=True)
    with torch.no_grad():
        for p in four.parameters():
            p.add_(0.01 * torch.randn_like(p))  # not the zero-initialised head
    source = save_model(tmp_path / "four.safetensors", four.eval())
    config = load_config("tiny", overrides(videos, tmp_path / "runs", steps=1,
                                           **{"model.init": str(source),
                                              "model.args.n_outputs": 2}))
    from centrifuge.train.module import CentrifugeModule

    module = CentrifugeModule(config.model.name, dict(config.model.args),
                              optim=vars(config.optim).copy(), init=config.model.init)
    two = module.model.eval()
    x = torch.rand(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.allclose(two(x), four.eval()(x)[:, :2], atol=1e-5)
    # a different architecture is refused with the reason
    from centrifuge.errors import ModelLoadingError

    with pytest.raises(ModelLoadingError, match="same architecture"):
        CentrifugeModule("centrifuge_pc_tiny", {}, optim=vars(config.optim).copy(),
                         init=str(source))


def test_init_from_a_model_trained_on_the_same_stream_warns(videos, tmp_path):
    """Items are seeded by (data.seed, index): continuing a model with its own data seed
    replays its blends, which the run must say (cpu3 did so unnoticed)."""
    import warnings

    from centrifuge.models import create_model, save_model
    from centrifuge.train.module import CentrifugeModule

    config = load_config("tiny", overrides(videos, tmp_path / "runs", steps=1))
    source = save_model(tmp_path / "src.safetensors", create_model("centrifuge_tiny"),
                        train_config=config.to_dict())

    def build(seed):
        cfg = config.to_dict()
        cfg["data"] = {**cfg["data"], "seed": seed}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            CentrifugeModule("centrifuge_tiny", {}, optim=vars(config.optim).copy(),
                             train_config=cfg, init=str(source))
        return [str(w.message) for w in caught if "data stream" in str(w.message)]

    same = build(config.data.seed)
    assert len(same) == 1 and f"data.seed {config.data.seed}" in same[0]
    assert build(config.data.seed + 1) == []


def test_run_dir_that_exists_is_refused(videos, tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    args = ["train", "-c", "tiny", "--run-dir", str(tmp_path / "taken"),
            *overrides(videos, tmp_path)]
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err


def test_train_only_keeps_frozen_statistics_through_a_real_run(videos, tmp_path):
    """optim.train_only in a Lightning fit: the frozen parts' weights *and* BatchNorm
    statistics end where they started (c3cpu3/4 ran with drifting statistics when only
    the module's train() kept them in eval mode), the trained part moves."""
    from centrifuge.models import create_model, save_model

    torch.manual_seed(0)
    source = save_model(tmp_path / "c2.safetensors", create_model("c2_tiny", n_outputs=2))
    args = overrides(videos, tmp_path / "runs", steps=3, **{
        "model.name": "c2_tiny", "model.args": "{n_outputs: 2}", "model.init": str(source),
        "optim.train_only": "[beta_head]", "optim.lr": 0.01})
    run = train(load_config("tiny", args), enable_progress_bar=False)
    before, after = weights(source), weights(run / "last.safetensors")
    stats = [k for k in before if k.startswith("net.") and "running_" in k]
    assert stats and all(torch.equal(before[k], after[k]) for k in stats)
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("net."))
    assert any(not torch.equal(before[k], after[k]) for k in before
               if k.startswith("beta_head."))


@pytest.fixture(scope="module")
def sound_videos(tmp_path_factory):
    from conftest import tone

    root = tmp_path_factory.mktemp("sound")
    for i in range(3):
        write_video(root / f"s{i}.mp4", moving_pattern(24, 40, 48, seed=10 + i), fps=10,
                    audio=tone(2.4, 250 + 150 * i))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("control", ["internal", "deterministic"])
def test_c3_trains_on_sound_and_reports_control_accuracy(sound_videos, tmp_path, control):
    args = overrides(sound_videos, tmp_path, **{
        "model.name": "c3_tiny", "model.args": f"{{n_outputs: 2, control: {control}}}",
        "data.source": "mixed", "data.real_source": "folder", "data.audio": "true",
        "data.texture_corpus": "false"})
    run = train(load_config("tiny", args), enable_progress_bar=False)
    model = load_model(run / "model.safetensors")
    assert model.model_name == "c3_tiny" and model.config.control == control
    import csv

    rows = list(csv.DictReader(open(run / "logs" / "segment-0" / "metrics.csv")))
    acc = [float(r["val/control_acc"]) for r in rows if r.get("val/control_acc")]
    chance = [float(r["val/control_chance"]) for r in rows if r.get("val/control_chance")]
    assert acc and chance and all(0 <= a <= 1 for a in acc) and all(0 < c <= 1 for c in chance)
    assert any(r.get("train/control") for r in rows) == (control == "internal")
    # export from the Lightning checkpoint, at half size, and separate with it
    target = tmp_path / "c3-half.safetensors"
    assert main(["export", str(run / "checkpoints" / "last.ckpt"), str(target),
                 "--dtype", "fp16"]) == 0
    half = load_model(target)
    x, audio = torch.rand(1, 3, 8, 32, 32), torch.randn(1, 257, 32)
    with torch.no_grad():
        a, b = half.forward_dict(x, audio), model.forward_dict(x, audio)
    assert (a["outputs"] - b["outputs"]).abs().max() < 0.02


def test_c3_without_sound_in_the_data_is_refused(sound_videos, tmp_path, capsys):
    args = overrides(sound_videos, tmp_path / "runs", **{"model.name": "c3_tiny"})
    assert main(["train", "-c", "tiny", *args]) == 2
    assert "data.audio=true" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_last_checkpoint_is_the_latest_step_even_when_not_the_best(videos, tmp_path):
    # a learning rate that wrecks the model after the first validation: step 4 is worse
    # than step 2, and last.ckpt must still be step 4 (what a resume continues from)
    args = overrides(videos, tmp_path, steps=4, **{"trainer.val_every": 2, "optim.lr": 5.0,
                                                    "optim.warmup_steps": 0,
                                                    "trainer.precision": "32-true"})
    run = train(load_config("tiny", args), enable_progress_bar=False)
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    assert last["global_step"] == 4
    assert best["global_step"] == 2  # the wrecked step 4 is not the best


@pytest.mark.slow
def test_max_minutes_limits_each_segment_not_the_whole_run(videos, tmp_path):
    """trainer.max_minutes stops a segment early, exports and checkpoints its last step;
    a resumed segment gets its own minutes (Lightning's max_time would count the first
    segment's too and stop the second before its first step)."""
    config = load_config("tiny", overrides(videos, tmp_path, steps=100_000,
                                           **{"trainer.max_minutes": 0.03}))
    run = train(config, run_dir=tmp_path / "run", enable_progress_bar=False)
    first = load_model(run / "last.safetensors").checkpoint_metadata["metrics"]["step"]
    assert 0 < first < 100_000
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == first  # resumable from where it stopped
    again = config_for_resume(run, ["trainer.max_minutes=0.03"])
    train(again, resume=run, enable_progress_bar=False)
    second = load_model(run / "last.safetensors").checkpoint_metadata["metrics"]["step"]
    assert second > first


@pytest.mark.slow
def test_gpu_recipe_trains_from_a_texture_bank_without_pyav(tmp_path):
    """configs/gpu-small.yaml as a lent GPU machine runs it: PyAV missing, procedural
    video from a gzipped bank, validation on held-out synthetic blends alone."""
    from centrifuge.data.textures import TextureBank, procedural_textures

    bank = tmp_path / "textures.safetensors.gz"
    TextureBank.from_images(procedural_textures(4, 64)).save(bank)
    run = tmp_path / "run"
    settings = [f"data.textures={bank}", "data.frames=4", "data.size=32",
                "data.batch_size=2", "data.workers=0", "data.val_synthetic=2",
                "trainer.max_steps=2", "trainer.val_every=2", "trainer.accelerator=cpu",
                "trainer.devices=1", "trainer.max_minutes=0"]
    code = f"""
import sys
class NoPyAV:
    def find_spec(self, name, path=None, target=None):
        if name == "av" or name.startswith("av."):
            raise ImportError("No module named 'av'")
sys.meta_path.insert(0, NoPyAV())
from centrifuge.config import load_config
from centrifuge.train.run import train
train(load_config("gpu-small", {settings!r}), run_dir={str(run)!r}, enable_progress_bar=False)
assert "av" not in sys.modules
from centrifuge.io import read_video
try:
    read_video({str(bank)!r})
except Exception as e:
    print(type(e).__name__, e)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MissingDependencyError" in done.stdout and "pip install" in done.stdout
    with open(run / "logs" / "segment-0" / "metrics.csv") as f:
        columns = next(csv.reader(f))
    assert "val_synth_transparent/ratio" in columns and "val/loss" not in columns
    assert "val_synth_transparent/still_ratio" in columns  # does it separate by motion?
    best = load_model(run / "model.safetensors").checkpoint_metadata["metrics"]
    assert set(best) == {"val_synth_transparent/ratio"}  # the best by held-out blends


def test_the_owner_loss_counts_transparent_items_only_and_needs_the_edge_head():
    """loss.owners adds edge_owner_loss: ln 2 at init (owners undecided) on transparent
    items; occlusion items, whose hidden layer's edges are not in the blend, add nothing."""
    import math
    import warnings

    from centrifuge.errors import ConfigError
    from centrifuge.train.module import CentrifugeModule

    args = {"head": "edges", "widths": [8, 16], "groups": 4}
    optim = {"name": "adamw", "lr": 1e-3, "schedule": "constant"}
    v1, v2 = torch.rand(2, 3, 2, 16, 16), torch.rand(2, 3, 2, 16, 16)
    occluder = (torch.rand(2, 1, 2, 16, 16) > 0.7).float()

    def step(alpha, loss):
        torch.manual_seed(0)
        module = CentrifugeModule("centrifuge_small", args, optim, loss=loss)
        batch = {"mix": alpha * v1 + (1 - alpha) * v2, "v1": v1, "v2": v2, "alpha": alpha}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # self.log outside a Trainer
            return module.training_step(batch, 0).item()

    clear = torch.full((2, 1, 2, 16, 16), 0.5)
    assert abs(step(clear, {"owners": 1.0}) - step(clear, None) - math.log(2)) < 1e-5
    assert step(occluder, {"owners": 1.0}) == step(occluder, None)
    with pytest.raises(ConfigError, match="head=edges"):
        CentrifugeModule("centrifuge_small", {}, optim, loss={"owners": 1.0})
