from centrifuge import __version__
from centrifuge.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_usage_error_is_one_line_exit_2(capsys):
    assert main(["separate", "x.mp4", "--segment", "zero"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--segment" in err


def test_help_lists_every_command_with_what_it_does(capsys):
    import argparse

    from centrifuge.cli import get_parser

    assert main([]) == 0
    out = capsys.readouterr().out
    (sub,) = [a for a in get_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(sub.choices) >= 7  # corpus, train, separate, evaluate, demo, export, classify
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name in sub.choices:  # each command named, with its one-line help
        assert name in out and helps[name] and helps[name][:30] in " ".join(out.split())
    assert main(["separate", "--help"]) == 0  # a subcommand's help lists its options
    sep = capsys.readouterr().out
    assert all(opt in sep for opt in ("--model", "--segment", "--max-size", "--list-models"))


def test_corpus_list_without_corpus_is_one_clear_line(tmp_path, capsys):
    assert main(["corpus", "list", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "centrifuge corpus build" in err


def test_evaluate_offers_every_blend_the_evaluator_scores():
    # the CLI spells the list out so that `centrifuge --help` does not import torch
    import argparse

    from centrifuge.cli import get_parser
    from centrifuge.evaluate.blends import BLENDS
    from centrifuge.evaluate.moving_occluder import MOVING_OCCLUDER

    sub = next(a for a in get_parser()._actions if isinstance(a, argparse._SubParsersAction))
    blend = next(a for a in sub.choices["evaluate"]._actions if a.dest == "blend")
    assert tuple(blend.choices) == (*BLENDS, MOVING_OCCLUDER)


def test_console_script_runs():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "centrifuge", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"centrifuge {__version__}"


def test_export_halves_a_checkpoint_and_refuses_to_overwrite(tmp_path, capsys):
    import json

    import torch

    from centrifuge.models import create_model, load_model, save_model

    src = save_model(tmp_path / "m.safetensors", create_model("centrifuge_tiny"))
    (tmp_path / "eval.json").write_text(json.dumps({"ratio": 0.5}))
    dst = tmp_path / "small.safetensors"
    assert main(["export", str(src), str(dst), "--dtype", "fp16",
                 "--metrics", str(tmp_path / "eval.json")]) == 0
    assert dst.stat().st_size < 0.6 * src.stat().st_size
    model = load_model(dst)
    assert model.checkpoint_metadata["metrics"] == {"ratio": 0.5}
    assert next(model.parameters()).dtype == torch.float32
    assert main(["export", str(src), str(dst)]) == 2
    assert main(["export", str(src), str(src), "--force"]) == 2
    assert "never the source" in capsys.readouterr().err
