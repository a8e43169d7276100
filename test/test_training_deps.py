"""The training extra must not break OpenCV: albumentations/albucore depend on
opencv-python-headless, whose cv2/ would overwrite our contrib build's (both ship the
same folder), so setup_env.sh installs them with --no-deps."""

from __future__ import annotations

import importlib.metadata as md

import cv2
import pytest

CV2_DISTRIBUTIONS = (
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
)


def _installed(name: str) -> bool:
    try:
        md.distribution(name)
    except md.PackageNotFoundError:
        return False
    return True


def test_cv2_is_the_contrib_build():
    assert hasattr(cv2, "HOGDescriptor")
    assert hasattr(cv2, "ximgproc"), "cv2 is not the contrib build (no ximgproc)"


def test_only_one_distribution_provides_cv2():
    providers = [name for name in CV2_DISTRIBUTIONS if _installed(name)]
    assert providers == ["opencv-contrib-python-headless"], providers


def test_albumentations_imports_without_network_check():
    import numpy as np

    import pose_perception.training.transforms  # noqa: F401  (sets NO_ALBUMENTATIONS_UPDATE first)

    albumentations = pytest.importorskip("albumentations")
    image = np.zeros((8, 8, 3), np.uint8)
    assert albumentations.Blur(p=1.0)(image=image)["image"].shape == (8, 8, 3)
