"""Training logs: CSV files (always), TensorBoard (when installed), a PNG of the curves.

CSV is the record of truth (the resume test compares its loss column); TensorBoard is
optional because it pulls gRPC and a web server into the environment.
"""

from __future__ import annotations

import csv
import os
from typing import Any


class CsvLog:
    """Append-only CSV with a fixed header; re-opening after a resume appends."""

    def __init__(self, path: str, columns: tuple[str, ...]) -> None:
        self.path, self.columns = path, columns
        if not os.path.isfile(path):
            with open(path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(columns)

    def write(self, **row: Any) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self.columns])

    def truncate_after(self, key: str, value: int) -> None:
        """Drop rows with ``key`` > ``value``: a resumed run rewrites what the
        interrupted run logged after its last checkpoint."""
        rows = read_csv(self.path)
        with open(self.path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(self.columns)
            for row in rows:
                if int(float(row[key])) <= value:
                    writer.writerow([row.get(c, "") for c in self.columns])


def read_csv(path: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class TensorBoard:
    """A SummaryWriter if ``tensorboard`` is importable, else a no-op."""

    def __init__(self, log_dir: str) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.writer = None
        else:
            self.writer = SummaryWriter(log_dir)

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plot_curves(train_csv: str, val_csv: str, out_png: str) -> str | None:
    """Loss per iteration and AP per validation epoch, side by side (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    train = read_csv(train_csv) if os.path.isfile(train_csv) else []
    val = read_csv(val_csv) if os.path.isfile(val_csv) else []
    fig, (ax_loss, ax_ap) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot([int(r["iter"]) for r in train], [float(r["loss"]) for r in train], lw=0.8)
    ax_loss.set(xlabel="iteration", ylabel="KL loss", title="training loss")
    if val:
        epochs = [int(r["epoch"]) for r in val]
        ax_ap.plot(epochs, [float(r["AP"]) for r in val], "o-", label="AP")
        ax_ap.plot(epochs, [float(r["AR"]) for r in val], "s--", label="AR")
        ax_ap.legend()
    ax_ap.set(xlabel="epoch", ylabel="COCO OKS", title="validation")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
