"""Losses and layer metrics of the Visual Centrifuge (CVPR 2019 §3.3, §4.1).

Videos are ``(..., 3, T, H, W)`` float in [0, 1]; layer stacks ``(B, n, 3, T, H, W)``.

Reconstruction loss, eq. (3)::

    ℓ(U, V) = 1/(2T) Σ_t ( ‖U_t − V_t‖₁ + ‖∇U_t − ∇V_t‖₁ )

The paper does not spell out the normalisation of the norms. We use the one that
reproduces its numbers: per-element means, with videos in I3D's [−1, 1] range. For
tensors in [0, 1] that is exactly::

    ℓ(U, V) = mean|U − V| + ½ (mean|∂ₓU − ∂ₓV| + mean|∂ᵧU − ∂ᵧV|)

(the factor 2 of the range cancels the ½ of the formula; ∇ is the pair of forward
differences, averaged). On real corpus blends at α = 0.5 the Identity baseline (both
outputs = the blend) then scores ≈ 0.3–0.4 — the paper reports 0.361 on Kinetics
(the Identity column of ``centrifuge evaluate`` prints ours: 0.3612 on the card's
transparent val blends).

Permutation-invariant loss, eq. (2), over a pairwise matrix ``(B, m, n)`` of
ℓ(target_k, output_i): the best assignment of the m targets to distinct outputs
(all ordered choices for small n, the Hungarian algorithm above), as asteroid's
``PITLossWrapper``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from centrifuge.ops.poisson import edge_owners, edge_strengths

# Above this many ordered assignments, solve with the Hungarian algorithm instead.
MAX_BRUTE_FORCE = 5040


def reconstruction_loss(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """ℓ(U, V) of eq. (3), reduced over the last four dims ``(3, T, H, W)``.

    Shape:
        ``(..., 3, T, H, W)`` twice → ``(...)``.
    """
    d = (u - v).float()
    dims = (-4, -3, -2, -1)
    pixel = d.abs().mean(dim=dims)
    grad_x = (d[..., :, 1:] - d[..., :, :-1]).abs().mean(dim=dims)
    grad_y = (d[..., 1:, :] - d[..., :-1, :]).abs().mean(dim=dims)
    return pixel + 0.5 * (grad_x + grad_y)


def pairwise_loss(targets: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """Matrix of ℓ(target_k, output_i).

    Shape:
        targets ``(B, m, 3, T, H, W)``, outputs ``(B, n, 3, T, H, W)`` → ``(B, m, n)``.
    """
    m, n = targets.shape[1], outputs.shape[1]
    # A loop over pairs keeps memory at one video per pair instead of B·m·n videos.
    rows = [
        torch.stack([reconstruction_loss(targets[:, k], outputs[:, i]) for i in range(n)], -1)
        for k in range(m)
    ]
    return torch.stack(rows, 1)


@cache
def _assignments(m: int, n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(n), m)), dtype=torch.long)


def _count_assignments(m: int, n: int) -> int:
    out = 1
    for k in range(m):
        out *= n - k
    return out


def best_assignment(pairwise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum-cost assignment of each target to a distinct output.

    Returns:
        ``(cost (B,), assignment (B, m))``: ``assignment[b, k]`` is the output matched to
        target k; the cost keeps the gradient of ``pairwise``.
    """
    b, m, n = pairwise.shape
    if m > n:
        raise ValueError(f"cannot assign {m} targets to {n} outputs")
    if _count_assignments(m, n) <= MAX_BRUTE_FORCE:
        perms = _assignments(m, n).to(pairwise.device)  # (K, m)
        # costs[b, p] = sum_k pairwise[b, k, perms[p, k]]
        gathered = pairwise[:, torch.arange(m, device=pairwise.device)[None, :], perms]
        costs = gathered.sum(-1)
        best = costs.argmin(dim=1)
        return costs.gather(1, best[:, None])[:, 0], perms[best]
    from scipy.optimize import linear_sum_assignment

    cols = []
    for mat in pairwise.detach().float().cpu().numpy():
        _, col = linear_sum_assignment(mat)
        cols.append(col)
    assign = torch.as_tensor(np.stack(cols), dtype=torch.long, device=pairwise.device)
    cost = pairwise.gather(2, assign[:, :, None])[:, :, 0].sum(1)
    return cost, assign


def align(outputs: torch.Tensor, assignment: torch.Tensor) -> torch.Tensor:
    """Outputs re-ordered to the targets: ``(B, n, ...)`` + ``(B, m)`` → ``(B, m, ...)``."""
    idx = assignment.view(*assignment.shape, *([1] * (outputs.ndim - 2)))
    return outputs.gather(1, idx.expand(-1, -1, *outputs.shape[2:]))


@dataclass
class PITResult:
    loss: torch.Tensor  # scalar, mean over the batch
    per_sample: torch.Tensor  # (B,)
    assignment: torch.Tensor  # (B, m)
    pairwise: torch.Tensor  # (B, m, n)


def pit_loss(outputs: torch.Tensor, targets: torch.Tensor) -> PITResult:
    """Permutation-invariant loss of eq. (2): ``min over i≠j ℓ(V¹, Oⁱ) + ℓ(V², Oʲ)``.

    Shape:
        outputs ``(B, n, 3, T, H, W)``, targets ``(B, m, 3, T, H, W)`` with ``m ≤ n``.
    """
    pairwise = pairwise_loss(targets, outputs)
    cost, assignment = best_assignment(pairwise)
    return PITResult(cost.mean(), cost, assignment, pairwise)


def recomposition_loss(
    mix: torch.Tensor, aligned: torch.Tensor, alpha: torch.Tensor | float
) -> torch.Tensor:
    """Eq. (4): the matched outputs must re-compose the input, ``ℓ(V, α·Oⁱ + (1−α)·Oʲ)``.

    ``alpha`` is the weight of the first layer (a number or a ``(B, 1|3, T, H, W)`` mask),
    as in ``V = α·V¹ + (1−α)·V²``. Returns ``(B,)``.
    """
    recomposed = alpha * aligned[:, 0] + (1 - alpha) * aligned[:, 1]
    return reconstruction_loss(mix, recomposed)


def diversity(outputs: torch.Tensor) -> torch.Tensor:
    """The paper's diversity metric ``min_{i≠j} ℓ(Oⁱ, Oʲ)`` per sample: ``(B,)`` (the
    optional diversity loss term; the paper's pick of two layers out of n lives in
    :mod:`centrifuge.separation.selection`, rule ``dissimilar``)."""
    d = pairwise_loss(outputs, outputs)
    n = d.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=d.device)
    return d.masked_fill(eye, float("inf")).flatten(1).min(1).values


@dataclass
class LossWeights:
    """Weights of the optional terms the CVPR paper tried (both off by default, §4.1),
    of C3's control regression (ICCV eq. 6; it reaches only the regressor), and of the
    edge head's ownership cross-entropy (``owners``)."""

    recomposition: float = 0.0
    diversity: float = 0.0
    control: float = 1.0
    control_centred: float = 0.0  # see control_regression_loss; not in the paper
    # edge_owner_loss on the transparent items, for centrifuge_small head=edges (not in
    # the paper; docs/edges.md)
    owners: float = 0.0


def centrifuge_loss(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    mix: torch.Tensor | None = None,
    alpha: torch.Tensor | float = 0.5,
    weights: LossWeights | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PIT loss plus the optional re-composition and diversity terms.

    Returns:
        ``(total, parts)`` where ``parts`` holds ``pit`` and any enabled term (detached),
        plus the assignment.
    """
    weights = weights or LossWeights()
    pit = pit_loss(outputs, targets)
    total = pit.loss
    parts: dict[str, torch.Tensor] = {"pit": pit.loss.detach(), "assignment": pit.assignment}
    if weights.recomposition or weights.diversity:
        aligned = align(outputs, pit.assignment)
        if weights.recomposition:
            if mix is None:
                raise ValueError("the re-composition term needs the input mix")
            rec = recomposition_loss(mix, aligned, alpha).mean()
            total = total + weights.recomposition * rec
            parts["recomposition"] = rec.detach()
        if weights.diversity:
            div = reconstruction_loss(aligned[:, 0], aligned[:, 1]).mean()
            total = total - weights.diversity * div
            parts["diversity"] = div.detach()
    return total, parts


# -- control (ICCV 2019 §3.3, §4.1) ------------------------------------------------------


def deterministic_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Eq. (5): ``ℓ(V¹, O¹) + ℓ(V², O²)`` — the audio's video in slot 1, per sample ``(B,)``.

    Shape: outputs ``(B, 2, 3, T, H, W)``, targets ``(B, 2, 3, T, H, W)``."""
    if outputs.shape[1] != 2 or targets.shape[1] != 2:
        raise ValueError("deterministic control needs exactly 2 outputs and 2 targets")
    return reconstruction_loss(targets[:, 0], outputs[:, 0]) + reconstruction_loss(
        targets[:, 1], outputs[:, 1])


def control_regression_loss(scores: torch.Tensor, outputs: torch.Tensor,
                            desired: torch.Tensor, centred: float = 0.0) -> torch.Tensor:
    """Eq. (6): ``Σ_i |s_i − ℓ(V¹, sg(O_i))|`` per sample ``(B,)``; the stop-gradient
    keeps this loss from shaping the outputs.

    ``centred`` adds ``centred · Σ_i |(s_i − s̄) − (ℓ_i − ℓ̄)|`` (bars: means over the n
    outputs), the same regression with each sample's level removed. Only the differences
    between the s_i pick a layer, and while the layers are barely separated they are
    ~1 % of the level ℓ̄, which varies ~50 % from clip to clip: eq. (6)'s L1 gradient then
    takes its sign from the level error, alike for every i, and carries no information
    about which output is V¹ (c3cpu2/3 settled on one slot so). The centred term does.

    Shape: scores ``(B, n)``, outputs ``(B, n, 3, T, H, W)``, desired V¹ ``(B, 3, T, H, W)``."""
    with torch.no_grad():
        target = pairwise_loss(desired[:, None].float(), outputs.detach().float())[:, 0]
    s = scores.float()
    loss = (s - target).abs().sum(-1)
    if centred:
        diff = (s - s.mean(-1, keepdim=True)) - (target - target.mean(-1, keepdim=True))
        loss = loss + centred * diff.abs().sum(-1)
    return loss


# Share of the spread of ℓ(V¹, O_i) within which a choice still counts as right (§4.1).
CONTROL_THRESHOLD = 0.2


def control_correct(desired_loss: torch.Tensor, chosen: torch.Tensor,
                    threshold: float = CONTROL_THRESHOLD) -> torch.Tensor:
    """The paper's control-accuracy rule, per sample ``(B,)`` bool: the chosen output c
    is right if ``ℓ(V¹, O_c) < min_i ℓ(V¹, O_i) + t`` with
    ``t = threshold · (max_i − min_i)`` (near-identical outputs count alike).

    Args:
        desired_loss: ``ℓ(V¹, O_i)`` for every output, ``(B, n)``.
        chosen: index c of the attended output, ``(B,)``."""
    lo, hi = desired_loss.min(-1).values, desired_loss.max(-1).values
    picked = desired_loss.gather(1, chosen.long()[:, None])[:, 0]
    return picked < lo + threshold * (hi - lo)


def control_chance(desired_loss: torch.Tensor, threshold: float = CONTROL_THRESHOLD
                   ) -> torch.Tensor:
    """Accuracy of choosing an output uniformly at random under the same rule, ``(B,)``."""
    lo, hi = desired_loss.min(-1, keepdim=True).values, desired_loss.max(-1, keepdim=True).values
    return (desired_loss < lo + threshold * (hi - lo)).float().mean(-1)


def edge_owner_loss(owners: torch.Tensor, mix: torch.Tensor,
                    targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the edge head's ownership logits against the true owners, a dense
    per-edge signal beside the PIT loss (``benchmarks/curve.py --owner-loss``).

    The owner of each x and y forward difference, per colour channel, is the layer whose
    own difference there is the stronger (``ops.poisson.edge_owners``); each edge
    counts by the blend's edge strength there (flat regions own nothing worth learning),
    and of the two labellings the better one counts (layers have no order). Two layers
    only.

    Shape: owners ``(B, 2, 6, T, H, W)``, mix ``(B, 3, T, H, W)``, targets ``(B, 2, 3, T,
    H, W)`` → scalar.
    """
    if owners.shape[1] != 2 or targets.shape[1] != 2:
        raise ValueError("edge_owner_loss takes two layers")

    first = edge_owners(targets[:, 0], targets[:, 1])
    weight = edge_strengths(mix)
    weight = weight / weight.mean(dim=(1, 2, 3, 4), keepdim=True).clamp_min(1e-6)
    logp = owners.float().log_softmax(dim=1)
    as_is = -(first * logp[:, 0] + (1 - first) * logp[:, 1])
    swapped = -(first * logp[:, 1] + (1 - first) * logp[:, 0])
    dims = (1, 2, 3, 4)
    return torch.minimum((weight * as_is).mean(dims), (weight * swapped).mean(dims)).mean()
