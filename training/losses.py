"""KL discrete loss on SimCC logits (the RTMPose loss, ``KLDiscretLoss`` semantics)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class KLDiscretLoss(nn.Module):
    """KL(softmax(label·label_beta) ‖ softmax(logit·beta)), averaged over bins, weighted
    per keypoint, summed over instances and the x/y axes, divided by the keypoint count.

    The sum over instances (not a mean) is the official reduction: the loss value grows
    with the batch size. ``beta`` sharpens the prediction; ``label_softmax`` turns the
    Gaussian targets into distributions.
    """

    def __init__(self, beta: float = 10.0, label_softmax: bool = True, label_beta: float = 10.0) -> None:
        super().__init__()
        self.beta = beta
        self.label_softmax = label_softmax
        self.label_beta = label_beta

    def axis_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(N·K, bins) → (N·K,) mean-over-bins KL divergence."""
        log_p = F.log_softmax(logits * self.beta, dim=1)
        labels = F.softmax(target * self.label_beta, dim=1) if self.label_softmax else target
        return F.kl_div(log_p, labels, reduction="none").mean(dim=1)

    def forward(
        self,
        pred: tuple[torch.Tensor, torch.Tensor],
        target: tuple[torch.Tensor, torch.Tensor],
        weight: torch.Tensor,
    ) -> torch.Tensor:
        num_keypoints = pred[0].shape[1]
        w = weight.reshape(-1)
        total = torch.zeros((), device=w.device)
        for p, t in zip(pred, target, strict=True):
            total = (
                total
                + (self.axis_loss(p.reshape(-1, p.shape[-1]).float(), t.reshape(-1, t.shape[-1])) * w).sum()
            )
        return total / num_keypoints
