"""Sine positional encoding with a frequency table ``dim_t`` kept as a buffer.

RTMO uses it twice: over the stride-32 grid in the HybridEncoder (2-D) and over the dynamic
bins of the DCC keypoint classifier (1-D). ``dim_t`` is a state_dict entry in the official
checkpoints, so the loaded values are used, not recomputed.
"""

from __future__ import annotations

import torch
from torch import nn


class SinePositionalEncoding(nn.Module):
    """position / temperature^(i/d) → [cos, sin]; 2-D grids concatenate the row and column codes."""

    dim_t: torch.Tensor

    def __init__(self, out_channels: int, temperature: float) -> None:
        super().__init__()
        pos_dim = out_channels // 2
        dim_t = temperature ** (torch.arange(pos_dim, dtype=torch.float32) / pos_dim)
        self.register_buffer("dim_t", dim_t)

    def encode(self, position: torch.Tensor) -> torch.Tensor:
        """(...,) positions → (..., out_channels) codes."""
        freq = position.unsqueeze(-1) / self.dim_t
        return torch.cat((freq.cos(), freq.sin()), dim=-1)

    def grid(self, height: int, width: int) -> torch.Tensor:
        """(1, H·W, 2·out_channels) codes of a row-major H×W grid: [row code, column code]."""
        rows, cols = torch.meshgrid(
            torch.arange(height, dtype=torch.float32, device=self.dim_t.device),
            torch.arange(width, dtype=torch.float32, device=self.dim_t.device),
            indexing="ij",
        )
        return torch.cat((self.encode(rows.flatten()), self.encode(cols.flatten())), dim=-1).unsqueeze(0)
