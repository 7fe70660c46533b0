import logging

import numpy as np
import pytest
import torch

from centrifuge.data.augment import AugmentConfig
from centrifuge.data.clips import ClipSampler, resize_frames
from centrifuge.data.entries import folder_entries, kinetics_entries, make_entries
from centrifuge.data.mixing import PURE_COLOURS, reflection_blend
from centrifuge.data.pairs import BlendConfig, BlendedPairs
from centrifuge.data.superpixels import supervoxels
from centrifuge.errors import ConfigError
from centrifuge.io import read_audio, read_video, write_video
from centrifuge.io.audio import control_spectrogram

from conftest import moving_pattern


@pytest.fixture
def video_folder(tmp_path):
    """Four real little videos (two with sound) in nested folders."""
    root = tmp_path / "videos"
    (root / "a").mkdir(parents=True)
    (root / "b" / "c").mkdir(parents=True)
    from conftest import tone

    for i, rel in enumerate(["a/one.mp4", "a/two.mkv", "b/three.mp4", "b/c/four.mp4"]):
        audio = tone(30 / 10, 200 + 50 * i) if i % 2 == 0 else None
        write_video(root / rel, moving_pattern(30, 40, 56, seed=i), fps=10, audio=audio)
    return root


def pairs(entries, n=16, seed=0, frames=8, crop=32, train=True, **blend):
    sampler = ClipSampler(entries, frames=frames, crop=crop, train=train)
    return BlendedPairs(sampler, n, seed=seed, blend=BlendConfig(**blend))


def test_folder_source_finds_videos_recursively(video_folder):
    entries = folder_entries(video_folder)
    assert sorted(e.source for e in entries) == ["a/one.mp4", "a/two.mkv", "b/c/four.mp4",
                                                 "b/three.mp4"]
    empty = video_folder.parent / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no video files"):
        folder_entries(empty)


def test_same_seed_same_tensors_different_index_different(video_folder):
    a = pairs(folder_entries(video_folder))
    b = pairs(folder_entries(video_folder))
    for i in (0, 5):
        x, y = a[i], b[i]
        for k in ("mix", "v1", "v2", "alpha"):
            assert torch.equal(x[k], y[k])
        assert x["meta"] == y["meta"]
    assert not torch.equal(a[0]["mix"], a[1]["mix"])
    c = pairs(folder_entries(video_folder), seed=1)
    assert not torch.equal(a[0]["mix"], c[0]["mix"])


def test_transparent_pairs_come_from_different_videos(video_folder):
    ds = pairs(folder_entries(video_folder))
    for i in range(8):
        item = ds[i]
        assert item["meta"]["source1"] != item["meta"]["source2"]
        assert item["mix"].shape == (3, 8, 32, 32)
        assert torch.allclose(item["mix"], 0.5 * item["v1"] + 0.5 * item["v2"])
        assert torch.all(item["alpha"] == 0.5)


def test_alpha_range(video_folder):
    ds = pairs(folder_entries(video_folder), alpha=[0.25, 0.75])
    alphas = {round(float(ds[i]["alpha"][0, 0, 0, 0]), 4) for i in range(10)}
    assert len(alphas) > 5 and all(0.25 <= a <= 0.75 for a in alphas)


def test_occlusion_masks_are_binary_and_cover_one_supervoxel(video_folder):
    ds = pairs(folder_entries(video_folder), blend="occlusion", superpixels=12)
    for i in range(4):
        item = ds[i]
        alpha = item["alpha"][0]
        assert set(alpha.unique().tolist()) <= {0.0, 1.0} and alpha.sum() > 0
        frames = (item["v1"].permute(1, 2, 3, 0) * 255).round().to(torch.uint8).numpy()
        labels = supervoxels(frames, n_segments=12)
        chosen = np.unique(labels[alpha.numpy() == 1])
        assert len(chosen) == 1
        assert np.array_equal(labels == chosen[0], alpha.numpy() == 1)
        assert torch.allclose(item["mix"], alpha * item["v1"] + (1 - alpha) * item["v2"])


def test_mixed_blend_draws_both_kinds_deterministically(video_folder):
    ds = pairs(folder_entries(video_folder), blend="mixed", superpixels=12)
    again = pairs(folder_entries(video_folder), blend="mixed", superpixels=12)
    kinds = []
    for i in range(12):
        item = ds[i]
        kind = item["meta"]["blend"]
        kinds.append(kind)
        values = set(item["alpha"].unique().tolist())
        assert values == {0.5} if kind == "transparent" else values <= {0.0, 1.0}
        assert torch.equal(item["mix"], again[i]["mix"])
    assert set(kinds) == {"transparent", "occlusion"}


def test_frozen_and_pure_colour_clips(video_folder):
    ds = pairs(folder_entries(video_folder), frozen=2)
    item = ds[0]
    for key in ("v1", "v2"):
        v = item[key]
        assert torch.equal(v, v[:, :1].expand_as(v))
    ds = pairs(folder_entries(video_folder), colour="magenta")
    item = ds[0]
    assert torch.equal(item["v2"][:, 0, 0, 0], torch.tensor(PURE_COLOURS["magenta"]))
    assert item["meta"]["source2"] == "colour:magenta"


def test_validation_crops_are_centred(video_folder):
    entries = folder_entries(video_folder)
    sampler = ClipSampler(entries, frames=8, crop=32, train=False)
    for seed in range(3):
        clip = sampler.sample(np.random.default_rng(seed))
        # shorter side 40 -> round(1.15 * 32) = 37, width 56 * 37 / 40 = 52: centre crop
        video = read_video(clip.entry.path, size=37).frames[clip.start : clip.start + 8]
        h, w = video.shape[1:3]
        y, x = (h - 32) // 2, (w - 32) // 2
        assert np.array_equal(clip.frames, video[:, y : y + 32, x : x + 32])
        shifted = video[:, y : y + 32, x + 2 : x + 34]
        assert not np.array_equal(clip.frames, shifted)


def test_speed_augmentation_takes_every_other_frame(video_folder):
    entries = folder_entries(video_folder)
    aug = AugmentConfig(flip=False, speed=[2, 2])
    sampler = ClipSampler(entries, frames=8, crop=32, augment=aug, scale=1.0)
    clip = sampler.sample(np.random.default_rng(0))
    video = read_video(clip.entry.path, size=32).frames
    # the crop is random: find it in the first frame, then check the later frames
    ref = video[clip.start]
    h, w = ref.shape[:2]
    hits = [(y, x) for y in range(h - 31) for x in range(w - 31)
            if np.array_equal(ref[y : y + 32, x : x + 32], clip.frames[0])]
    assert hits
    y, x = hits[0]
    expected = video[clip.start : clip.start + 16 : 2, y : y + 32, x : x + 32]
    assert np.array_equal(clip.frames, expected)


def test_resize_keeps_uint8_frames(video_folder):
    frames = np.full((2, 10, 10, 3), 200, np.uint8)
    out = resize_frames(frames, 4)
    assert out.shape == (2, 4, 4, 3) and out.dtype == np.uint8 and (out == 200).all()


def test_reflection_blend_is_linear_light_and_keeps_the_layers():
    g = torch.Generator().manual_seed(0)
    v1, v2 = torch.rand(3, 4, 24, 24, generator=g), torch.rand(3, 4, 24, 24, generator=g)
    seen = set()
    for seed in range(12):
        r = reflection_blend(v1, v2, np.random.default_rng(seed))
        assert r.mix.shape == v1.shape and 0 <= r.mix.min() and r.mix.max() <= 1
        # the mix is the layers' sum in linear light (γ 2.2), clipped
        lin = (r.transmission ** 2.2 + r.reflection ** 2.2).clamp(0, 1) ** (1 / 2.2)
        assert torch.allclose(r.mix, lin, atol=1e-4)
        # the transmission is V¹ dimmed, never blurred
        ratio = (r.transmission ** 2.2) / (v1 ** 2.2).clamp_min(1e-6)
        assert float(ratio[v1 > 0.2].std()) < 1e-3
        seen.add(bool((r.reflection - v2).abs().mean() > 0.05))
    assert seen == {True}  # the reflection always differs from V² (dimmed, often blurred)


def test_reflection_items_in_training_pairs(video_folder):
    ds = pairs(folder_entries(video_folder), blend="mixed", reflection=1.0, n=12)
    kinds = {ds[i]["meta"]["blend"] for i in range(12)}
    assert kinds == {"reflection", "occlusion"}


def test_clips_of_one_scene_are_never_blended(video_folder):
    entries = folder_entries(video_folder)
    for e in entries:
        e.group = "one" if e.source.startswith("a/") else e.source
    ds = BlendedPairs(ClipSampler(entries, frames=8, crop=32), 30, seed=0)
    for i in range(30):
        s1, s2 = ds[i]["meta"]["source1"], ds[i]["meta"]["source2"]
        assert not (s1.startswith("a/") and s2.startswith("a/"))


def test_corrupt_and_short_videos_are_skipped_and_counted(video_folder, caplog):
    (video_folder / "broken.mp4").write_bytes(b"\x00" * 3000)
    write_video(video_folder / "short.mp4", moving_pattern(3, 40, 56), fps=10)
    entries = folder_entries(video_folder)
    sampler = ClipSampler(entries, frames=8, crop=32)
    ds = BlendedPairs(sampler, 40, seed=3)
    with caplog.at_level(logging.WARNING, logger="centrifuge.data"):
        sources = {ds[i]["meta"]["source1"] for i in range(40)}
    assert "broken.mp4" not in sources and "short.mp4" not in sources
    assert sampler.skipped == 2
    assert sum("skipping" in r.message for r in caplog.records) == 2


def test_no_usable_video_is_a_clear_error(tmp_path):
    write_video(tmp_path / "short.mp4", moving_pattern(3, 16, 16), fps=10)
    sampler = ClipSampler(folder_entries(tmp_path), frames=8, crop=8)
    with pytest.raises(ConfigError, match="no usable clip of 8 frames"):
        sampler.sample(np.random.default_rng(0))


def test_kinetics_csv_and_class_folders(video_folder, tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text("path,label,start,end\n"
                   f"{video_folder}/a/one.mp4,dancing,1.0,2.5\n"
                   "videos/b/three.mp4,singing,0,3\n")
    entries = kinetics_entries(csv)
    assert [e.label for e in entries] == ["dancing", "singing"]
    assert entries[0].start_s == 1.0 and entries[0].end_s == 2.5
    sampler = ClipSampler(entries[:1], frames=8, crop=32)
    for seed in range(5):
        clip = sampler.sample(np.random.default_rng(seed))
        assert 10 <= clip.start and clip.start + 8 <= 25  # inside [1.0, 2.5) s at 10 fps
    by_class = kinetics_entries(video_folder)  # class folders "a" and "b"
    assert {e.label for e in by_class} == {"a", "b"}
    with pytest.raises(ConfigError, match="path,label"):
        bad = tmp_path / "bad.csv"
        bad.write_text("just-a-path.mp4\n")
        kinetics_entries(bad)
    with pytest.raises(ConfigError, match="unknown data source"):
        make_entries("youtube", str(tmp_path))


def test_audio_spectrogram_of_the_first_video(video_folder):
    sampler = ClipSampler(folder_entries(video_folder), frames=10, crop=32)
    ds = BlendedPairs(sampler, 4, seed=0, audio=True)
    for i in range(4):
        item = ds[i]
        assert item["meta"]["source1"] in ("a/one.mp4", "b/three.mp4")  # the ones with sound
        assert item["audio"].shape == (257, 40)  # 4 spectrogram frames per video frame
        # it is the sound of V¹'s own window: [start, start + 10 frames) at 10 fps
        wave = read_audio(video_folder / item["meta"]["source1"])
        first = item["meta"]["start1"] * 1600
        expected = control_spectrogram(np.pad(wave, (0, 16000))[first : first + 16000], 10)
        torch.testing.assert_close(item["audio"], expected)


def test_mixed_blend_occlusion_share():
    def share(occlusion):
        rng = np.random.default_rng(0)
        cfg = BlendConfig(blend="mixed", occlusion=occlusion)
        return np.mean([cfg.draw_kind(rng) == "occlusion" for _ in range(4000)])

    assert share(0.0) == 0 and share(1.0) == 1
    assert abs(share(0.3) - 0.3) < 0.03 and abs(share(0.5) - 0.5) < 0.03
    with pytest.raises(ConfigError, match="occlusion"):
        BlendConfig(blend="mixed", occlusion=1.5)


def test_audio_v2_draws_both_layers_among_videos_with_sound(video_folder):
    sampler = ClipSampler(folder_entries(video_folder), frames=10, crop=32)
    sounding = {"a/one.mp4", "b/three.mp4"}
    both = BlendedPairs(sampler, 12, seed=0, audio=True, audio_v2=True)
    for i in range(12):
        meta = both[i]["meta"]
        assert {meta["source1"], meta["source2"]} == sounding  # two scenes, both sounding
    plain = BlendedPairs(sampler, 12, seed=0, audio=True)
    assert any(plain[i]["meta"]["source2"] not in sounding for i in range(12))
    with pytest.raises(ConfigError, match="audio_v2 needs data.audio"):
        BlendedPairs(sampler, 4, audio_v2=True)


def test_sensor_noise_goes_on_the_blend_and_leaves_the_layers(video_folder):
    entries = folder_entries(video_folder)
    sampler = ClipSampler(entries, frames=8, crop=32, train=True)
    clean = BlendedPairs(sampler, 8, seed=3, blend=BlendConfig(blend="mixed"))
    noisy = BlendedPairs(sampler, 8, seed=3, blend=BlendConfig(blend="mixed"),
                         sensor_noise=1.0)
    for i in range(4):
        a, b = clean[i], noisy[i]
        for key in ("v1", "v2", "alpha"):  # same layers: the noise is drawn last
            assert torch.equal(a[key], b[key])
        assert torch.allclose(a["mix"], a["alpha"] * a["v1"] + (1 - a["alpha"]) * a["v2"],
                              atol=1e-6)
        diff = (b["mix"] - a["mix"])[(a["mix"] > 0.1) & (a["mix"] < 0.9)]  # away from clamping
        assert 0.004 < float(diff.std()) < 0.032
    with pytest.raises(ConfigError, match="sensor_noise"):
        BlendedPairs(sampler, 8, sensor_noise=1.5)


def test_match_colour_gives_both_layers_one_palette_and_keeps_the_stream(video_folder):
    sampler = ClipSampler(folder_entries(video_folder), frames=8, crop=32, train=True)
    plain = BlendedPairs(sampler, 6, seed=4)
    matched = BlendedPairs(sampler, 6, seed=4, match_colour=True)
    apart = []
    for i in range(6):
        a, b = plain[i], matched[i]
        assert a["meta"] == b["meta"]  # same clips, same crops: it draws nothing
        for item, gap in ((a, apart), (b, None)):
            m1, m2 = item["v1"].mean((1, 2, 3)), item["v2"].mean((1, 2, 3))
            if gap is None:
                assert torch.allclose(m1, m2, atol=0.02)  # equal up to the [0, 1] clamp
            else:
                gap.append(float((m1 - m2).abs().max()))
        assert torch.allclose(b["mix"], (b["v1"] + b["v2"]) / 2, atol=1e-6)
    assert max(apart) > 0.05  # the natural pairs do differ in colour
    with pytest.raises(ConfigError, match="match_colour"):
        BlendedPairs(sampler, 6, match_colour="yes")
