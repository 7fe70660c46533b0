"""The procedural layered-video generator: deterministic, well-formed, moving, real pixels
from stills and train clips only."""

import numpy as np
import pytest
import torch

from centrifuge.data.pairs import BlendConfig, BlendedPairs, MixedSource
from centrifuge.data.synthetic import SyntheticConfig, SyntheticSampler, draw_scene, render
from centrifuge.data.textures import TextureBank, procedural_textures, skimage_stills
from centrifuge.errors import ConfigError


@pytest.fixture(scope="module")
def bank():
    # Stills and procedural textures only: no corpus needed.
    return TextureBank.from_images(skimage_stills(96) + procedural_textures(8, 96))


def scene(bank, index, frames=8, seed=0, **cfg):
    return draw_scene(np.random.default_rng([seed, index]), bank, frames, SyntheticConfig(**cfg))


def test_same_seed_same_video_other_index_other_video(bank):
    a = render([scene(bank, 3)], bank, 32)
    b = render([scene(bank, 3)], bank, 32)
    c = render([scene(bank, 4)], bank, 32)
    assert torch.equal(a, b)
    assert (a - c).abs().mean() > 0.02


def test_shapes_range_and_masks(bank):
    scenes = [scene(bank, i, sprites=[2, 6]) for i in range(4)]
    video, masks = render(scenes, bank, 40, return_masks=True)
    assert video.shape == (4, 3, 8, 40, 40) and masks.shape == (4, 6, 8, 40, 40)
    assert video.min() >= 0 and video.max() <= 1
    assert masks.min() >= 0 and masks.max() <= 1
    # visible masks of the sprites never cover more than the whole frame together
    assert masks.sum(1).max() <= 1 + 1e-5
    # every scene shows at least two sprites somewhere
    assert ((masks.flatten(2).amax(-1) > 0.5).sum(1) >= 2).all()
    # a batch renders each scene as it renders alone
    alone = render(scenes[2:3], bank, 40)
    assert torch.allclose(video[2:3], alone, atol=1e-5)


def test_sprites_move_independently(bank):
    speeds = []
    for i in range(6):
        sc = scene(bank, i, frames=12, sprites=[2, 2], motion_blur=0, noise=0, compression=0,
                   illumination=0)
        _, masks = render([sc], bank, 48, return_masks=True)
        m = masks[0, :2]  # (2, T, S, S)
        ys = torch.arange(48.0).view(1, 1, 48, 1)
        xs = torch.arange(48.0).view(1, 1, 1, 48)
        area = m.sum((-1, -2)).clamp_min(1e-6)
        centre = torch.stack([(m * ys).sum((-1, -2)) / area, (m * xs).sum((-1, -2)) / area], -1)
        visible = (area > 4).all(1)
        if not visible.all():
            continue
        motion = centre[:, -1] - centre[:, 0]  # (2 sprites, 2 coordinates)
        speeds.append(motion)
    assert len(speeds) >= 3
    moved = [float(s.norm(dim=-1).max()) for s in speeds]
    assert max(moved) > 3  # pixels over the clip: sprites do move
    # two sprites of a scene do not share one motion
    differences = [float((s[0] - s[1]).norm()) for s in speeds]
    assert max(differences) > 2


def test_camera_moves_the_background(bank):
    sc = scene(bank, 1, frames=10, sprites=[0, 0], motion_blur=0, noise=0, compression=0,
               illumination=0)
    video = render([sc], bank, 32)[0]
    assert (video[:, 0] - video[:, -1]).abs().mean() > 0.01


def test_sampler_feeds_blended_pairs_and_mixes_with_real(bank):
    synth = SyntheticSampler(bank, frames=6, crop=24)
    data = BlendedPairs(synth, 4, seed=1, blend=BlendConfig(blend="mixed", reflection=0.5))
    item = data[0]
    assert item["mix"].shape == (3, 6, 24, 24)
    assert item["meta"]["source1"].startswith("synthetic:")
    assert item["meta"]["source1"] != item["meta"]["source2"]
    assert torch.equal(data[2]["mix"], BlendedPairs(synth, 4, seed=1, blend=BlendConfig(
        blend="mixed", reflection=0.5))[2]["mix"])

    class Real:  # a stand-in real source that marks its clips
        span = 6

        def sample(self, rng, *, exclude=None, audio=False, audio_offset=0.0):
            from centrifuge.data.clips import Clip
            from centrifuge.data.entries import VideoEntry

            return Clip(np.zeros((6, 24, 24, 3), np.uint8), VideoEntry("r.mp4", "real"), 0, 25)

    mixed = BlendedPairs(MixedSource(Real(), synth, 0.5), 40, seed=0)
    sources = {mixed[i]["meta"]["source1"].split(":")[0] for i in range(40)}
    assert sources == {"real", "synthetic"}


def test_synthetic_soundtrack_follows_the_motion(bank):
    from centrifuge.data.soundtrack import draw_sounds, soundtrack

    synth = SyntheticSampler(bank, frames=16, crop=32, fps=25.0)
    silent = synth.sample(np.random.default_rng(3))
    loud = synth.sample(np.random.default_rng(3), audio=True)
    # sound is drawn after the picture: asking for it leaves the video unchanged
    assert np.array_equal(silent.frames, loud.frames) and silent.audio is None
    assert loud.audio.shape == (16000 * 16 // 25,) and loud.audio.dtype == np.float32
    assert 0 < np.abs(loud.audio).max() <= 0.5 + 1e-6
    # one sprite that stops halfway and a still camera: the sound dies when it stops
    rng = np.random.default_rng(0)
    scene = draw_scene(rng, bank, 16, SyntheticConfig(sprites=[1, 1]))
    scene["paths"][0] = [[0.0, 2.0, 2.0], [0.0, 0.0, 0.0]]  # y' = 2 + 4(τ − ½): 0 at τ = 0
    scene["camera"][:] = 0
    sounds = draw_sounds(rng, scene)
    sounds["noisy"][:] = False
    sounds["hum_level"] = 0.0
    wave = soundtrack(scene, sounds, 16, 25.0)
    quarter = len(wave) // 4
    start = np.abs(wave[600 : quarter // 2]).mean()  # after the click of the turn at τ = 0
    end = np.abs(wave[-quarter:]).mean()
    assert end > 3 * start  # speed 0 → 4 frame widths per clip: quiet → loud
    scene["paths"][0] = 0.0  # a sprite that does not move makes no sound
    assert np.abs(soundtrack(scene, sounds, 16, 25.0)).max() < 0.01
    scene["paths"][0] = [[0.0, 2.0, 2.0], [0.0, 0.0, 0.0]]

    def envelope(w):
        return np.sqrt(np.square(w[: len(w) // 160 * 160]).reshape(-1, 160).mean(1))

    # an offset window is the same scene's sound later on: its loudness curve continues
    later = soundtrack(scene, sounds, 16, 25.0, offset_s=0.2)
    a, b = envelope(wave)[20:], envelope(later)[: len(envelope(wave)) - 20]
    assert np.corrcoef(a, b)[0, 1] > 0.9


def test_bad_generator_settings_are_refused():
    with pytest.raises(ConfigError, match="sprites"):
        SyntheticConfig(sprites=[3, 9])
    with pytest.raises(ConfigError, match="probability"):
        SyntheticConfig(noise=2)


def test_bank_round_trips_through_a_file(bank, tmp_path):
    bank.save(tmp_path / "bank.safetensors")
    again = TextureBank.load(tmp_path / "bank.safetensors")
    assert torch.equal(again.images, bank.images) and torch.equal(again.segments, bank.segments)
    bank.save(tmp_path / "bank.safetensors.gz")  # gzipped: what a GPU machine carries
    packed = TextureBank.load(tmp_path / "bank.safetensors.gz")
    assert torch.equal(packed.images, bank.images) and torch.equal(packed.labels, bank.labels)
    assert (tmp_path / "bank.safetensors.gz").stat().st_size < 0.8 * (
        tmp_path / "bank.safetensors").stat().st_size
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    (tmp_path / "junk.safetensors.gz").write_bytes(b"junk")
    for junk in ("junk.safetensors", "junk.safetensors.gz"):
        with pytest.raises(ConfigError, match="not a texture bank"):
            TextureBank.load(tmp_path / junk)


@pytest.mark.slow
@pytest.mark.corpus
def test_corpus_textures_come_from_train_clips_only():
    from centrifuge.data.corpus import Corpus
    from centrifuge.data.textures import SIDE, _square, corpus_frames, corpus_stills
    from centrifuge.io import read_video

    frames = corpus_frames(side=64, per_clip=2)
    corpus = Corpus.load()
    assert len(frames) == 2 * len(corpus.split("train"))
    stills = corpus_stills(side=64)
    assert len(stills) == sum(s["tiles"] for s in corpus.stills) >= 25
    frames += stills
    # not one of them is a frame of a val clip
    val = [_square(f, 64) for c in corpus.split("val")
           for f in read_video(corpus.path(c), size=64).frames[::4]]
    val = np.stack(val).astype(np.float32)
    for f in frames:
        closest = np.abs(val - f.astype(np.float32)).mean(axis=(1, 2, 3)).min()
        assert closest > 8, "a texture matches a val frame"
    assert SIDE >= 112  # textures are sharp enough for 112² training clips


@pytest.mark.slow
@pytest.mark.corpus
def test_bundle_trains_without_the_corpus_cache(tmp_path, monkeypatch):
    from centrifuge.cli import main
    from centrifuge.data.corpus import Corpus

    target = tmp_path / "bundle"
    assert main(["corpus", "bundle", str(target)]) == 0
    assert main(["corpus", "bundle", str(target)]) == 2  # never over an existing folder
    original = Corpus.load()
    bundled = Corpus.load(target)
    assert [c["id"] for c in bundled.clips] == [c["id"] for c in original.clips]
    assert all(bundled.path(c).is_file() for c in bundled.clips)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    assert size < 64 * 2**20  # travels to a GPU machine beside the code
    bank = TextureBank.load(target / "textures.safetensors")
    video = render([draw_scene(np.random.default_rng(0), bank, 4)], bank, 32)
    assert video.shape == (1, 3, 4, 32, 32)
    # a mixed data module draws from the bundle alone
    from centrifuge.config import load_config
    from centrifuge.train.datamodule import BlendedDataModule

    monkeypatch.setenv("CENTRIFUGE_HOME", str(target))
    cfg = load_config("cpu2", [f"data.textures={target / 'textures.safetensors'}",
                               "data.frames=4", "data.size=32"])
    source = BlendedDataModule(cfg.data, total_batches=1).train_source()
    clip = source.sample(np.random.default_rng(1))
    assert clip.frames.shape == (4, 32, 32, 3)
    # the textures alone, gzipped: the same bank in a third of the bytes
    slim = tmp_path / "slim"
    assert main(["corpus", "bundle", str(slim), "--textures-only"]) == 0
    assert [p.name for p in slim.iterdir()] == ["textures.safetensors.gz"]
    packed = TextureBank.load(slim / "textures.safetensors.gz")
    assert torch.equal(packed.images, bank.images)
    assert (slim / "textures.safetensors.gz").stat().st_size < 16 * 2**20


def _sprite_positions(sc, i):
    """(T, 2) output-space (y, x) centre of sprite i: the translation of its pose."""
    pose = np.linalg.inv(sc["sp_local"][i][:, 0])
    return pose[:, 1, 2], pose[:, 0, 2]


def test_coherent_sprites_move_with_their_background(bank):
    """coherence = 1: a sprite stays on the same background point (up to rotation and
    tilt); 0: its own path, unrelated to the camera's."""
    for index in range(4):
        sc = scene(bank, index, sprites=[1, 1], coherence=1.0)
        bg = sc["bg"][:, 0]  # (T, 3, 3)
        zoom = np.hypot(bg[:, 0, 0], bg[:, 1, 0])
        py, px = _sprite_positions(sc, 0)
        # position + Δcentre / zoom is constant over the clip
        for pos, centre in ((py, bg[:, 1, 2]), (px, bg[:, 0, 2])):
            carried = pos + (centre - centre.mean()) / zoom
            assert np.ptp(carried) < 1e-6, index
        free = scene(bank, index, sprites=[1, 1])
        fy, fx = _sprite_positions(free, 0)
        fb = free["bg"][:, 0]
        carried = fy + (fb[:, 1, 2] - fb[:, 1, 2].mean()) / np.hypot(fb[:, 0, 0], fb[:, 1, 0])
        assert np.ptp(carried) > 1e-3  # without coherence it does not


def test_palette_sprites_use_their_layers_image_and_defaults_draw_the_same(bank):
    shared = [scene(bank, i, sprites=[6, 6], palette=1.0) for i in range(6)]
    for sc in shared:
        for i in range(6):
            if sc["kinds"][i] > 1:
                assert sc["images"][i] == sc["bg_image"]
    # the knobs at 0 leave every other random choice of the scene as it was
    plain = scene(bank, 2, sprites=[6, 6])
    knob = scene(bank, 2, sprites=[6, 6], palette=1.0)
    assert plain["noise_seed"] == knob["noise_seed"] and plain["bg_image"] == knob["bg_image"]
    assert np.array_equal(plain["sp_local"], knob["sp_local"])
