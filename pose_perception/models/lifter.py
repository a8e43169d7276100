"""A causal temporal-convolution lifter: a window of 2D keypoints → root-relative 3D joints.

The architecture is VideoPose3D's (Pavllo et al., *3D human pose estimation in video with
temporal convolutions and semi-supervised training*, CVPR 2019): an input convolution
over time, residual blocks of (dilated convolution, 1×1 convolution), each followed by
BatchNorm, ReLU and dropout, and a 1×1 output convolution. Unlike VideoPose3D's default
(symmetric window, centre frame), the window here ends at the newest frame: every output
depends only on the present and past frames, so lifting adds no latency. The
``causal=True`` option of VideoPose3D does the same.

With ``receptive_field=1`` every kernel is 1 wide: the same width and depth, one frame in,
the single-frame baseline.
"""

from __future__ import annotations

import torch
from torch import nn


def kernel_width(receptive_field: int, num_blocks: int) -> int:
    """The kernel width ``k`` with ``k ** (num_blocks + 1) == receptive_field``.

    The input convolution has dilation 1 and block ``i`` dilation ``k ** (i + 1)``, so the
    window is ``k ** (num_blocks + 1)`` frames (27 = 3³ for two blocks; 1 for ``k = 1``).
    """
    if receptive_field < 1 or num_blocks < 0:
        raise ValueError(
            f"need receptive_field >= 1 and num_blocks >= 0, got {receptive_field}, {num_blocks}"
        )
    layers = num_blocks + 1
    k = round(receptive_field ** (1.0 / layers))
    if k**layers != receptive_field:
        valid = ", ".join(str(w**layers) for w in (1, 2, 3, 4, 5))
        raise ValueError(
            f"receptive_field {receptive_field} is not k**{layers} for an integer kernel k "
            f"({num_blocks} blocks allow {valid}, …)"
        )
    return k


class _Block(nn.Module):
    """Dilated conv → BN → ReLU → dropout → 1×1 conv → BN → ReLU → dropout, plus the input
    cropped to the newest frames (the valid convolution shortens the sequence)."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.crop = (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.conv1 = nn.Conv1d(channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm1d(channels, momentum=0.1)
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(self.relu(self.bn(self.conv(x))))
        y = self.drop(self.relu(self.bn1(self.conv1(y))))
        return x[:, :, self.crop :] + y


class CausalTemporalLifter(nn.Module):
    """(N, T, J_in, 2) normalised 2D keypoints → (N, J_out, 3) root-relative 3D (metres)
    of the **last** frame.

    Only the last ``receptive_field`` frames are used; a shorter input is padded on the
    left by repeating its first frame (as :class:`pose_perception.lifting.TemporalLifter`
    does at a track's start). :meth:`forward_sequence` lifts every frame of a sequence in
    one pass (training, offline use); each of its outputs is the same as :meth:`forward`
    on the window that ends at that frame.
    """

    def __init__(
        self,
        num_joints_in: int = 17,
        num_joints_out: int = 17,
        receptive_field: int = 27,
        channels: int = 256,
        dropout: float = 0.25,
        num_blocks: int = 2,
    ) -> None:
        super().__init__()
        if num_joints_in < 1 or num_joints_out < 1 or channels < 1:
            raise ValueError("num_joints_in, num_joints_out and channels must be >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        k = kernel_width(receptive_field, num_blocks)
        self.num_joints_in = num_joints_in
        self.num_joints_out = num_joints_out
        self.channels = channels
        self.num_blocks = num_blocks
        self.kernel = k
        self._receptive_field = receptive_field
        self.expand_conv = nn.Conv1d(num_joints_in * 2, channels, k, bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.blocks = nn.ModuleList(_Block(channels, k, k ** (i + 1), dropout) for i in range(num_blocks))
        self.shrink = nn.Conv1d(channels, num_joints_out * 3, 1)
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)

    @property
    def receptive_field(self) -> int:
        """Frames each output sees: the newest one and ``receptive_field - 1`` before it."""
        return self._receptive_field

    @property
    def dilations(self) -> tuple[int, ...]:
        """Dilation of the input convolution and of each block's temporal convolution."""
        return tuple(self.kernel**i for i in range(self.num_blocks + 1))

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[2] != self.num_joints_in or x.shape[3] != 2:
            raise ValueError(f"expected (N, T, {self.num_joints_in}, 2) keypoints, got {tuple(x.shape)}")

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, J, 2) with T >= receptive_field → (N, T - rf + 1, J_out, 3)."""
        n, t = x.shape[0], x.shape[1]
        h = x.reshape(n, t, self.num_joints_in * 2).transpose(1, 2)
        h = self.drop(self.relu(self.expand_bn(self.expand_conv(h))))
        for block in self.blocks:
            h = block(h)
        y = self.shrink(h).transpose(1, 2)
        return y.reshape(n, y.shape[1], self.num_joints_out, 3)

    def _pad(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """Repeat the first frame ``frames`` times on the left."""
        if frames <= 0:
            return x
        return torch.cat([x[:, :1].expand(-1, frames, -1, -1), x], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        rf = self._receptive_field
        if x.shape[1] > rf:
            x = x[:, -rf:]
        x = self._pad(x, rf - x.shape[1])
        return self._run(x)[:, -1]

    def forward_sequence(self, x: torch.Tensor, pad: bool = True) -> torch.Tensor:
        """(N, T, J_in, 2) → (N, T, J_out, 3): frame ``t`` lifted from frames ≤ ``t`` only.

        ``pad`` repeats the first frame ``receptive_field - 1`` times so that every frame
        gets an output; without it the output has ``T - receptive_field + 1`` frames (the
        first for the window ending at frame ``receptive_field - 1``).
        """
        self._check(x)
        if pad:
            x = self._pad(x, self._receptive_field - 1)
        elif x.shape[1] < self._receptive_field:
            raise ValueError(f"need at least {self._receptive_field} frames without padding")
        return self._run(x)
