import numpy as np
import pytest
import torch

from centrifuge.errors import CentrifugeError, ConfigError
from centrifuge.io import frames_to_tensor
from centrifuge.methods import LayerSeparator
from centrifuge.models import create_model
from centrifuge.separation.inference import Separator, crossfade_weights

from conftest import moving_pattern


def two_layers(t=40):
    return frames_to_tensor(moving_pattern(t, 16, 16, seed=1)), frames_to_tensor(
        moving_pattern(t, 16, 16, seed=2))


class Permuting(LayerSeparator):
    """Knows the true layers and returns them, swapped on every other segment (as a
    permutation-free model may); finds where a segment starts by its first frame."""

    name = "permuting"

    def __init__(self, l1, l2, *, fixed_order=False):
        self.l1, self.l2, self.fixed_order = l1, l2, fixed_order
        self.mix, self.starts = 0.5 * (l1 + l2), []

    def separate_clip(self, video, spec=None):
        s = next(i for i in range(self.mix.shape[1]) if torch.equal(self.mix[:, i], video[:, 0]))
        self.starts.append(s)
        a, b = self.l1[:, s : s + video.shape[1]], self.l2[:, s : s + video.shape[1]]
        return torch.stack([b, a] if (len(self.starts) - 1) % 2 else [a, b])


@pytest.mark.parametrize(("segment", "overlap"), [(8, 0.25), (10, 0.5), (7, 0.0)])
def test_reordering_stitches_permuted_segments_consistently(segment, overlap):
    """Through the Separator's own segments and stitching (a video of any length)."""
    l1, l2 = two_layers()
    method = Permuting(l1, l2)
    sep = Separator(method, segment=segment, overlap=overlap, max_size=None, progress=False)
    out = sep.separate(method.mix)
    assert out.shape == (2, 3, 40, 16, 16)
    step = segment - sep.overlap_frames
    assert method.starts == list(range(0, 40 - sep.overlap_frames, step))
    if overlap:
        assert torch.allclose(out[0], l1, atol=1e-6) and torch.allclose(out[1], l2, atol=1e-6)
    else:  # nothing shared, nothing to re-order by: each segment's output exactly as given
        for k, s in enumerate(method.starts):
            a, b = (l2, l1) if k % 2 else (l1, l2)
            part = slice(s, s + segment)
            assert torch.equal(out[0][:, part], a[:, part])
            assert torch.equal(out[1][:, part], b[:, part])


def test_segments_cover_every_frame_once_and_overlap_as_asked():
    sep = Separator("static-layer", segment=8, overlap=0.25, progress=False)
    video = torch.arange(23.0).view(1, 23, 1, 1).expand(3, 23, 2, 2)
    pieces = list(sep.segments(video))
    assert [s for s, _ in pieces] == [0, 6, 12, 18]
    assert [v.shape[1] for _, v in pieces] == [8, 8, 8, 5]
    for s, v in pieces:
        assert torch.equal(v, video[:, s : s + 8])
    assert [s for s, _ in sep.segments(video[:, :8])] == [0]  # one segment, no empty tail


def test_without_reordering_the_layers_swap():
    l1, l2 = two_layers()
    method = Permuting(l1, l2, fixed_order=True)  # a fixed order is never re-ordered
    out = Separator(method, segment=8, overlap=0.25, progress=False).separate(method.mix)
    assert not torch.allclose(out[0], l1, atol=1e-3)


def test_crossfade_weights_ramp_down():
    w = crossfade_weights(4)
    assert torch.allclose(w, torch.tensor([0.875, 0.625, 0.375, 0.125]))


def test_separator_on_a_tensor_matches_the_model_within_one_segment():
    torch.manual_seed(0)
    model = create_model("centrifuge_tiny").eval()
    sep = Separator(model, precision="fp32", segment=16, overlap=0.25, progress=False)
    video = frames_to_tensor(moving_pattern(12, 24, 40))
    out = sep.separate(video)
    with torch.no_grad():
        direct = model(video[None])[0].clamp(0, 1)
    assert out.shape == (4, 3, 12, 24, 40)
    assert torch.allclose(out, direct, atol=1e-5)
    longer = sep.separate(moving_pattern(37, 24, 40))  # uint8 frames, several segments
    assert longer.shape == (4, 3, 37, 24, 40)
    assert float(longer.min()) >= 0 and float(longer.max()) <= 1


def test_separator_rejects_bad_settings():
    model = create_model("centrifuge_tiny")
    with pytest.raises(ConfigError, match="overlap"):
        Separator(model, overlap=0.7)
    with pytest.raises(ConfigError, match="segment"):
        Separator(model, segment=1)
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        Separator(model, precision="fp16")
    with pytest.raises(CentrifugeError, match="unknown model"):
        Separator("no-such-model")
    with pytest.raises(CentrifugeError, match=r"\(T, H, W, 3\)"):
        Separator(model).separate(np.zeros((4, 8, 8), np.uint8))


def test_separate_honours_max_size():
    torch.manual_seed(0)
    sep = Separator(create_model("centrifuge_tiny", n_outputs=2).eval(), segment=8,
                    max_size=24, progress=False)
    out = sep.separate(frames_to_tensor(moving_pattern(10, 32, 48)))
    assert out.shape == (2, 3, 10, 16, 24)


@pytest.mark.parametrize("shifts", [2, 3, 4])
def test_shifts_average_the_reordered_flipped_views(shifts):
    """Views: + left-right flip, + time reversal, + both; each view's layers are put in
    the order that best matches the running sum (brute force over all orders here, not
    the match_layers under test) before averaging."""
    import itertools

    from centrifuge.losses import reconstruction_loss

    torch.manual_seed(0)
    model = create_model("centrifuge_tiny", n_outputs=3).eval()
    x = frames_to_tensor(moving_pattern(8, 16, 24))
    plain = Separator(model, segment=8, precision="fp32", progress=False)
    views = [plain.separate_segment(x), plain.separate_segment(x.flip(3)).flip(4),
             plain.separate_segment(x.flip(1)).flip(2),
             plain.separate_segment(x.flip([3, 1])).flip([4, 2])][:shifts]
    total = views[0].clone()
    for view in views[1:]:
        best = min(itertools.permutations(range(3)), key=lambda p: sum(
            reconstruction_loss(total[i], view[j]).item() for i, j in enumerate(p)))
        total += view[list(best)]
    expected = total / shifts
    sep = Separator(model, segment=8, precision="fp32", shifts=shifts, progress=False)
    assert torch.allclose(sep.separate_segment(x), expected, atol=1e-5)
    assert not torch.allclose(expected, views[0], atol=1e-4)  # the views changed something
