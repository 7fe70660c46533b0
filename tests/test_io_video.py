import struct
from fractions import Fraction

import av
import numpy as np
import pytest

from centrifuge.errors import VideoReadError, VideoWriteError
from centrifuge.io import (
    TruncatedVideoWarning,
    VideoWriter,
    frames_to_tensor,
    iter_chunks,
    probe,
    read_video,
    tensor_to_frames,
    write_video,
)
from centrifuge.io.writer import SoundEncoder

from conftest import moving_pattern, tone


def _index_frames(t, h=32, w=48):
    """Frame i is flat grey 8*i + 20: the decoded value tells which frame came back."""
    return np.stack([np.full((h, w, 3), 20 + 8 * i, np.uint8) for i in range(t)])


def _frame_index(frame):
    return int(round((float(frame.mean()) - 20) / 8))


def _write_raw(path, frames, pix_fmt, codec="libx264", fps=10):
    """Write frames with an arbitrary pixel format (PyAV directly, as other tools would)."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.height, s.width = frames.shape[1:3]
        s.pix_fmt = pix_fmt
        for f in frames:
            vf = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format=pix_fmt)
            c.mux(s.encode(vf))
        c.mux(s.encode(None))
    return path


def test_round_trip_within_codec_tolerance(tmp_path):
    frames = moving_pattern(12, 48, 64)
    write_video(tmp_path / "a.mp4", frames, fps=12)
    back = read_video(tmp_path / "a.mp4")
    assert back.frames.shape == frames.shape and back.frames.dtype == np.uint8
    assert back.fps == pytest.approx(12)
    err = np.abs(back.frames.astype(int) - frames.astype(int)).mean()
    # yuv420p halves chroma resolution: even lossless H.264 (crf 0) is ~1.9 levels off
    # on these colourful stripes; crf 18 adds ~0.7.
    assert err < 3.5


def test_odd_size_is_kept_exactly(tmp_path):
    frames = moving_pattern(6, 37, 51)
    write_video(tmp_path / "odd.mp4", frames, fps=10)
    back = read_video(tmp_path / "odd.mp4").frames
    assert back.shape == (6, 37, 51, 3)
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 3.0
    even = write_video(tmp_path / "even.mp4", frames[:, :36, :50], fps=10)
    assert probe(even).pix_fmt == "yuv420p" and probe(tmp_path / "odd.mp4").pix_fmt == "yuv444p"


def test_probe_reports_facts(make_video):
    path = make_video(t=20, h=32, w=48, fps=10, audio=True)
    info = probe(path)
    assert (info.num_frames, info.width, info.height) == (20, 48, 32)
    assert info.fps == pytest.approx(10)
    assert info.duration_s == pytest.approx(2.0, abs=0.15)
    assert info.has_audio and info.audio_rate == 16000
    assert not probe(make_video("silent.mp4")).has_audio


def test_start_and_num_frames_select_the_right_frames(tmp_path):
    write_video(tmp_path / "idx.mp4", _index_frames(25), fps=10)
    clip = read_video(tmp_path / "idx.mp4", start_s=1.0, num_frames=5)
    assert [_frame_index(f) for f in clip.frames] == [10, 11, 12, 13, 14]
    tail = read_video(tmp_path / "idx.mp4", start_s=2.2)
    assert [_frame_index(f) for f in tail.frames] == [22, 23, 24]


def test_size_argument(tmp_path):
    write_video(tmp_path / "s.mp4", moving_pattern(4, 40, 80), fps=10)
    assert read_video(tmp_path / "s.mp4", size=20).frames.shape == (4, 20, 40, 3)
    assert read_video(tmp_path / "s.mp4", size=(16, 24)).frames.shape == (4, 16, 24, 3)


def test_iter_chunks_streams_every_frame_once_plus_overlap(tmp_path):
    write_video(tmp_path / "idx.mp4", _index_frames(23), fps=10)
    chunks = list(iter_chunks(tmp_path / "idx.mp4", chunk_frames=8, overlap=3))
    starts = [s for s, _ in chunks]
    assert starts == [0, 5, 10, 15]
    for s, c in chunks:
        assert len(c) <= 8
        assert [_frame_index(f) for f in c] == list(range(s, s + len(c)))
    assert chunks[-1][0] + len(chunks[-1][1]) == 23


def test_iter_chunks_rejects_bad_overlap(tiny_video):
    with pytest.raises(ValueError, match="overlap"):
        next(iter_chunks(tiny_video, 4, 4))


def test_audio_round_trip_keeps_pitch_and_level(tmp_path):
    frames = moving_pattern(20, 32, 48)
    write_video(tmp_path / "av.mp4", frames, fps=10, audio=tone(2.0, 440))
    clip = read_video(tmp_path / "av.mp4", audio=True)
    assert clip.audio_rate == 16000
    assert len(clip.audio) == pytest.approx(32000, abs=10)
    spectrum = np.abs(np.fft.rfft(clip.audio[4000:28000]))
    peak_hz = np.argmax(spectrum) * 16000 / 24000
    assert peak_hz == pytest.approx(440, abs=5)
    assert np.sqrt(np.mean(clip.audio[4000:28000] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.2)


def test_files_sharing_one_sound_encoder_carry_the_same_sound(tmp_path):
    frames = moving_pattern(20, 32, 48)
    sound = np.stack([tone(2.0, 440), tone(2.0, 660)]).astype(np.float32)  # stereo
    aac = SoundEncoder(16000, 2)
    writers = [VideoWriter(tmp_path / f"{i}.mp4", 10, sound=aac) for i in range(2)]
    for k in range(0, 20, 5):  # blocks of frames, each with its stretch of sound
        packets = aac.encode(sound[:, k * 1600 : (k + 5) * 1600])
        for w in writers:
            w.write(frames[k : k + 5])
            w.write_sound_packets(packets)
    tail = aac.encode(None)
    for w in writers:
        w.write_sound_packets(tail)
        w.close()
    with pytest.raises(VideoWriteError, match="SoundEncoder"):
        writers[0].write_audio(sound)
    heard = []
    for i in range(2):
        clip = read_video(tmp_path / f"{i}.mp4", audio=True)
        assert len(clip.frames) == 20 and len(clip.audio) == pytest.approx(32000, abs=10)
        spectrum = np.abs(np.fft.rfft(clip.audio[4000:28000]))  # mono mix of 440 and 660 Hz
        peaks = sorted(np.argsort(spectrum)[-2:] * 16000 / 24000)
        assert peaks == pytest.approx([440, 660], abs=5)
        heard.append(clip.audio)
    np.testing.assert_array_equal(heard[0], heard[1])


@pytest.mark.parametrize(
    ("pix_fmt", "codec"), [("gray", "rawvideo"), ("yuv420p10le", "libx264"), ("yuv444p", "libx264")]
)
def test_unusual_pixel_formats_become_rgb(tmp_path, pix_fmt, codec):
    frames = moving_pattern(5, 32, 48)
    if pix_fmt == "gray":
        frames = np.repeat(frames.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    path = _write_raw(tmp_path / f"{pix_fmt}.mkv", frames, pix_fmt, codec=codec)
    assert probe(path).pix_fmt == pix_fmt
    back = read_video(path).frames
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 4.0


def test_tensor_conversion_round_trip():
    frames = moving_pattern(3, 8, 10)
    x = frames_to_tensor(frames)
    assert x.shape == (3, 3, 8, 10) and float(x.max()) <= 1.0
    assert np.array_equal(tensor_to_frames(x), frames)


# -- bad input -------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(VideoReadError, match="no such file"):
        read_video(tmp_path / "nope.mp4")


def test_directory(tmp_path):
    with pytest.raises(VideoReadError, match="is a directory"):
        probe(tmp_path)


def test_garbage_bytes(tmp_path):
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(VideoReadError, match="not a readable media file") as e:
        read_video(bad)
    assert "\n" not in str(e.value)


def test_audio_only_file(tmp_path):
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        s.layout = "mono"
        wave = tone(1.0)[None]
        f = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
        f.sample_rate, f.pts, f.time_base = 16000, 0, Fraction(1, 16000)
        c.mux(s.encode(f))
        c.mux(s.encode(None))
    with pytest.raises(VideoReadError, match="no video stream"):
        read_video(path)


def test_zero_decodable_frames(tmp_path):
    path = write_video(tmp_path / "zeroed.mp4", moving_pattern(10, 32, 48), fps=10)
    data = bytearray(path.read_bytes())
    i = data.index(b"mdat")  # the index stays intact, every coded frame becomes zeros
    size = struct.unpack(">I", data[i - 4 : i])[0]
    data[i + 4 : i - 4 + size] = bytes(size - 8)
    path.write_bytes(data)
    assert probe(path).num_frames == 10
    with pytest.raises(VideoReadError, match="no decodable video frames"):
        read_video(path)


def test_start_past_the_end(tiny_video):
    with pytest.raises(VideoReadError, match="past its end"):
        read_video(tiny_video, start_s=100)


def test_truncated_file_decodes_what_it_can_and_warns(tmp_path):
    good = write_video(tmp_path / "full.mp4", moving_pattern(40, 64, 96), fps=10)
    data = good.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])  # faststart: the index survives the cut
    with pytest.warns(TruncatedVideoWarning, match=r"decoded \d+ frames of 40"):
        clip = read_video(cut)
    assert 5 < len(clip.frames) < 40


def test_truncated_file_without_index_is_a_clear_error(tmp_path):
    good = _write_raw(tmp_path / "noindex.mp4", moving_pattern(20, 32, 48), "yuv420p")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # moov atom is at the end
    with pytest.raises(VideoReadError, match="not a readable media file"):
        probe(cut)


# -- writing failures leave nothing behind ---------------------------------------------


def test_write_into_missing_folder(tmp_path):
    with pytest.raises(VideoWriteError, match="does not exist"):
        write_video(tmp_path / "no" / "such" / "dir.mp4", moving_pattern(2, 8, 8), fps=10)


def test_exception_inside_writer_leaves_no_file(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(target, fps=10) as w:
            w.write(moving_pattern(3, 16, 16))
            raise RuntimeError("model crashed mid-video")
    assert list(tmp_path.iterdir()) == []


def test_bad_frames_leave_no_file(tmp_path):
    with pytest.raises(VideoWriteError, match="uint8"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 8, 8, 3), np.float32), fps=10)
    assert list(tmp_path.iterdir()) == []


def test_size_change_mid_video_is_refused(tmp_path):
    with pytest.raises(VideoWriteError, match="size changed"):
        with VideoWriter(tmp_path / "x.mp4", fps=10) as w:
            w.write(moving_pattern(2, 16, 16))
            w.write(moving_pattern(2, 16, 18))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.corpus
def test_reading_from_a_time_matches_reading_from_the_start(real_corpus):
    """corpus clip "cockatoo" marks non-IDR H.264 I-frames as keyframes: a seek lands on
    one, the frames after it reference pictures before it and decode differently (and
    not the same way twice with threads). The reader must notice and read from the start
    — the texture bank and every val blend read clips from a time."""
    path = real_corpus.root / "clips/cockatoo.mp4"
    with av.open(str(path)) as con:  # the premise: a plain seek lands on a corrupt frame
        stream = con.streams.video[0]
        con.seek(int(7.0 / stream.time_base), stream=stream, backward=True, any_frame=False)
        assert next(con.decode(stream)).is_corrupt
    full = read_video(path, size=32).frames
    for k in (112, 168, 278):
        np.testing.assert_array_equal(read_video(path, start_s=k / 20, num_frames=2,
                                                 size=32).frames, full[k:k + 2])
