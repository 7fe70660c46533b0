from centrifuge import __version__
from centrifuge.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_usage_error_is_one_line_exit_2(capsys):
    assert main(["separate", "x.mp4", "--segment", "zero"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--segment" in err


def test_help_lists_commands(capsys):
    assert main([]) == 0
    assert "corpus" in capsys.readouterr().out


def test_corpus_list_without_corpus_is_one_clear_line(tmp_path, capsys):
    assert main(["corpus", "list", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "centrifuge corpus build" in err


def test_console_script_runs():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "centrifuge", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"centrifuge {__version__}"
