"""report.html: rendered by headless Chromium, the screenshot must show the decoded
videos and the labels. Skips (with the reason) where no Chromium is installed; `.ci/run`
installs Debian's `chromium`, so CI always runs it."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from centrifuge.cli import main
from centrifuge.io import write_video
from centrifuge.models import create_model, save_model

from conftest import tone

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)),
               None)
MAGENTA = np.array([230, 20, 230])


def magenta_clip(path):
    """A magenta square drifting over grey: a colour no page chrome uses."""
    frames = np.full((20, 96, 128, 3), 90, np.uint8)
    for t in range(20):
        frames[t, 20:76, 10 + 2 * t : 66 + 2 * t] = MAGENTA
    return write_video(path, frames, 10, audio=tone(2.0))


@pytest.fixture
def report(tmp_path):
    torch.manual_seed(0)
    model = save_model(tmp_path / "tiny.safetensors", create_model("centrifuge_tiny", n_outputs=2))
    clip = magenta_clip(tmp_path / "clip.mp4")
    assert main(["separate", str(clip), "-o", str(tmp_path / "out"), "-n", str(model)]) == 0
    return tmp_path / "out" / "tiny" / "clip" / "report.html"


def test_report_is_self_contained_and_names_everything(report):
    page = report.read_text()
    summary = json.loads((report.parent / "summary.json").read_text())
    for name in ("mosaic.mp4", "layer_0.mp4", "layer_1.mp4", "contact.png",
                 "(model output 0)", "(model output 1)", summary["model"]):
        assert name in page
    assert "http://" not in page and "https://" not in page  # nothing from the network
    for src in ("mosaic.mp4", "layer_0.mp4", "contact.png"):
        assert (report.parent / src).is_file()


@pytest.mark.skipif(BROWSER is None, reason="no Chromium here (CI installs Debian's chromium)")
def test_chromium_screenshot_shows_videos_and_labels(report, tmp_path):
    shot = tmp_path / "shot.png"
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--mute-audio", "--window-size=1100,900", "--virtual-time-budget=4000",
           f"--screenshot={shot}", report.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # the videos decoded: the mosaic's input tile (and the contact sheet) show magenta
    near = np.abs(pixels - MAGENTA).sum(-1) < 60
    rows = np.nonzero(near.any(1))[0]
    assert near.sum() > 2 * 56 * 56, "no video frame visible"
    assert rows.min() < 300, "the first video row (mosaic) shows no frame"
    # the labels rendered: light text on the dark background above the videos
    text = (pixels.min(-1) > 200) & (np.ptp(pixels, -1) < 20)
    assert text[: rows.min()].sum() > 500, "no labels above the videos"
    dom = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "layer_1.mp4 (model output 1)" in dom
