"""Image operations shared by the separation methods and the networks: no state, no
learning, tensors in and tensors out.

* :mod:`~centrifuge.ops.poisson` — forward differences and their least-squares inverse
  (an FFT Poisson solve over mirrored frames);
* :mod:`~centrifuge.ops.motion` — global velocities by phase correlation, sub-pixel shifts,
  motion-compensated averages;
* :mod:`~centrifuge.ops.light` — display values ↔ linear light (where glass adds light).

Videos are ``(B, 3, T, H, W)`` float in [0, 1] unless a function says otherwise.
"""
