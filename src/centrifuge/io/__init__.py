"""Media I/O: PyAV video/audio reading and writing, and frame/tensor conversion.

Frames here are ``(T, H, W, 3)`` uint8; model tensors are ``(3, T, H, W)`` or
``(B, 3, T, H, W)`` float in [0, 1].
"""

import numpy as np
import torch

from centrifuge.io.audio import (
    AudioStream,
    AudioWarning,
    clip_log_spectrogram,
    log_spectrogram,
    read_audio,
)
from centrifuge.io.video import (
    TruncatedVideoWarning,
    Video,
    VideoInfo,
    iter_chunks,
    iter_frames,
    probe,
    read_video,
)
from centrifuge.io.writer import VideoWriter, write_video


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 → ``(3, T, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div_(255.0)


def tensor_to_frames(video: torch.Tensor) -> np.ndarray:
    """``(3, T, H, W)`` float in [0, 1] (clamped) → ``(T, H, W, 3)`` uint8."""
    x = video.detach().float().clamp(0, 1).mul_(255.0).round_().to(torch.uint8).cpu()
    # copying into a preallocated channels-last array is faster than .contiguous()
    out = torch.empty((*x.shape[1:], 3), dtype=torch.uint8)
    out.copy_(x.permute(1, 2, 3, 0))
    return out.numpy()


__all__ = [
    "AudioStream",
    "AudioWarning",
    "TruncatedVideoWarning",
    "Video",
    "VideoInfo",
    "VideoWriter",
    "clip_log_spectrogram",
    "frames_to_tensor",
    "iter_chunks",
    "iter_frames",
    "log_spectrogram",
    "probe",
    "read_audio",
    "read_video",
    "tensor_to_frames",
    "write_video",
]
