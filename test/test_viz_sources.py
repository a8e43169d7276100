"""draw_poses (what is drawn, where, in which colour) and the CLI frame sources."""

from __future__ import annotations

import itertools
import logging
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from crafted_images import jpeg_hiding_its_size, write_huge_png

from pose_perception.image_header import file_image_size
from pose_perception.skeletons import COCO17, Skeleton
from pose_perception.sources import CameraSource, open_source
from pose_perception.viz import draw_poses

GREY = 40


def _canvas(h: int = 200, w: int = 300) -> np.ndarray:
    return np.full((h, w, 3), GREY, np.uint8)


def _changed(before: np.ndarray, after: np.ndarray, x: float, y: float) -> bool:
    return bool((before[int(y), int(x)] != after[int(y), int(x)]).any())


TWO_POINTS = Skeleton("pair", ("left_a", "right_a", "c"), links=((0, 1), (1, 2)))


# ---------------------------------------------------------------------------- draw_poses


def test_only_confident_joints_are_drawn() -> None:
    image = _canvas()
    skeleton = Skeleton("dots", ("a", "b", "c"), links=())
    keypoints = np.array([[[50.0, 50.0], [250.0, 50.0], [150.0, 150.0]]])
    out = draw_poses(image, keypoints, np.array([[0.9, 0.1, 0.31]]), skeleton, threshold=0.3)
    assert _changed(image, out, 50, 50)  # high score
    assert not _changed(image, out, 250, 50)  # low score: nothing drawn there
    assert _changed(image, out, 150, 150)  # just above the threshold


def test_link_needs_both_ends() -> None:
    image = _canvas()
    keypoints = np.array([[[50.0, 50.0], [250.0, 50.0], [250.0, 150.0]]])
    out = draw_poses(image, keypoints, np.array([[0.9, 0.9, 0.2]]), TWO_POINTS, threshold=0.3)
    assert _changed(image, out, 150, 50)  # middle of link 0-1
    assert not _changed(image, out, 250, 100)  # middle of link 1-2
    assert not _changed(image, out, 250, 150)  # the low joint itself
    ys, xs = np.nonzero((out != image).any(axis=2))
    assert xs.min() >= 40 and xs.max() <= 260 and ys.min() >= 40 and ys.max() <= 60  # only around 0-1


def test_threshold_is_inclusive_and_adjustable() -> None:
    image = _canvas()
    keypoints = np.array([[[50.0, 50.0], [250.0, 50.0], [150.0, 150.0]]])
    scores = np.array([[0.5, 0.5, 0.5]])
    assert _changed(image, draw_poses(image, keypoints, scores, TWO_POINTS, threshold=0.5), 150, 150)
    assert not _changed(image, draw_poses(image, keypoints, scores, TWO_POINTS, threshold=0.51), 150, 150)


def test_colours_are_converted_from_rgb_to_bgr() -> None:
    image = _canvas(400, 400)
    keypoints = np.zeros((1, 17, 2))
    scores = np.zeros((1, 17))
    right_shoulder = COCO17.keypoint_names.index("right_shoulder")
    keypoints[0, right_shoulder] = (200, 200)
    scores[0, right_shoulder] = 1.0
    out = draw_poses(image, keypoints, scores, COCO17)
    r, g, b = COCO17.keypoint_colors[right_shoulder]
    assert (r, g, b) != (b, g, r)  # the test only means something for a non-symmetric colour
    assert out[200, 200].tolist() == [b, g, r]


def test_input_is_not_modified_and_output_is_a_new_array() -> None:
    image = _canvas()
    original = image.copy()
    out = draw_poses(
        image, np.array([[[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]]]), np.ones((1, 3)), TWO_POINTS
    )
    assert np.array_equal(image, original)
    assert out is not image and out.shape == image.shape and out.dtype == np.uint8


def test_no_people_gives_an_unchanged_copy() -> None:
    image = _canvas()
    out = draw_poses(image, np.zeros((0, 3, 2)), np.zeros((0, 3)), TWO_POINTS)
    assert np.array_equal(out, image)


def test_non_finite_and_far_away_keypoints_do_not_crash() -> None:
    image = _canvas()
    keypoints = np.array([[[np.nan, 10.0], [1e12, -1e12], [30.0, 30.0]]])
    out = draw_poses(image, keypoints, np.ones((1, 3)), TWO_POINTS)
    assert _changed(image, out, 30, 30)


def test_boxes_and_labels_are_drawn() -> None:
    image = _canvas()
    out = draw_poses(
        image,
        np.zeros((1, 3, 2)),
        np.zeros((1, 3)),
        TWO_POINTS,
        bboxes=np.array([[60.0, 80.0, 200.0, 190.0, 0.9]]),
        labels=["id 3 0.87"],
    )
    assert _changed(image, out, 130, 190)  # bottom edge of the box
    assert not _changed(image, out, 130, 140)  # box interior stays empty
    assert (out[60:80, 60:120] != GREY).any()  # the label tag above the box


@pytest.mark.parametrize(
    ("keypoints", "scores"),
    [(np.zeros((1, 4, 2)), np.zeros((1, 4))), (np.zeros((2, 3, 2)), np.zeros((1, 3)))],
)
def test_shape_mismatch_is_an_error(keypoints: np.ndarray, scores: np.ndarray) -> None:
    with pytest.raises(ValueError, match="expected keypoints"):
        draw_poses(_canvas(), keypoints, scores, TWO_POINTS)


def test_labels_must_match_boxes() -> None:
    with pytest.raises(ValueError, match="labels"):
        draw_poses(
            _canvas(),
            np.zeros((1, 3, 2)),
            np.zeros((1, 3)),
            TWO_POINTS,
            bboxes=np.zeros((1, 4)),
            labels=["a", "b"],
        )


# ---------------------------------------------------------------------------- sources


def _write_image(path: Path, value: int, size: tuple[int, int] = (32, 48)) -> Path:
    assert cv2.imwrite(str(path), np.full((*size, 3), value, np.uint8))
    return path


def _write_video(path: Path, frames: int = 5, fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (64, 48))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()
    return path


def test_single_image(tmp_path: Path) -> None:
    _write_image(tmp_path / "one.png", 77)
    source = open_source(str(tmp_path / "one.png"))
    frames = list(source)
    assert (source.kind, source.is_video, source.fps, source.frame_count) == ("image", False, None, 1)
    assert len(frames) == 1
    frame = frames[0]
    assert (frame.index, frame.name, frame.stamp) == (0, "one.png", 0.0)
    assert frame.image.shape == (32, 48, 3) and frame.image.dtype == np.uint8
    assert int(frame.image[0, 0, 0]) == 77


def test_folder_is_sorted_naturally_and_filters_extensions(tmp_path: Path) -> None:
    for name, value in (("img10.png", 10), ("img2.JPG", 2), ("img1.bmp", 1)):
        _write_image(tmp_path / name, value)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    source = open_source(str(tmp_path))
    frames = list(source)
    assert source.kind == "folder" and source.frame_count == 3
    assert [f.name for f in frames] == ["img1.bmp", "img2.JPG", "img10.png"]
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.stamp for f in frames] == [0.0, 1.0, 2.0]


def test_folder_skips_unreadable_images_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write_image(tmp_path / "a.png", 1)
    (tmp_path / "b.png").write_bytes(b"this is not a png")
    _write_image(tmp_path / "c.png", 3)
    with caplog.at_level(logging.WARNING, logger="pose_perception.sources"):
        frames = list(open_source(str(tmp_path)))
    assert [f.name for f in frames] == ["a.png", "c.png"]
    assert [f.index for f in frames] == [0, 1]
    assert any("b.png" in r.getMessage() for r in caplog.records)


def test_folder_with_no_readable_image_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path))):
        open_source(str(tmp_path))


def test_folder_without_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("hi")
    with pytest.raises(ValueError, match="no images"):
        open_source(str(tmp_path))


def test_unreadable_single_image_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"broken\.jpg"):
        open_source(str(tmp_path / "broken.jpg"))


def test_missing_path_names_the_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.mp4")
    with pytest.raises(FileNotFoundError, match=r"nope\.mp4"):
        open_source(missing)


def test_video_frames_and_increasing_stamps(tmp_path: Path) -> None:
    source = open_source(str(_write_video(tmp_path / "clip.mp4", frames=5, fps=10.0)))
    assert (source.kind, source.is_video, source.stem) == ("video", True, "clip")
    assert source.fps == pytest.approx(10.0)
    frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0].name == "frame_000000" and frames[4].name == "frame_000004"
    stamps = [f.stamp for f in frames]
    assert stamps[0] == pytest.approx(0.0)
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert stamps[-1] == pytest.approx(0.4, abs=1e-3)
    assert frames[0].image.shape == (48, 64, 3)
    assert [f.index for f in source] == [0, 1, 2, 3, 4]  # a video source can be read again


def test_undecodable_video_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(ValueError, match=r"bad\.mp4"):
        open_source(str(bad))


def test_digits_mean_a_camera_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no file called "99" here
    with pytest.raises(ValueError, match="camera 99"):
        open_source("99")


def test_camera_source_yields_timed_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeCapture:
        def __init__(self, index: int) -> None:
            self.reads = 0

        def isOpened(self) -> bool:
            return True

        def get(self, prop: int) -> float:
            return 25.0 if prop == cv2.CAP_PROP_FPS else 0.0

        def read(self) -> tuple[bool, np.ndarray | None]:
            self.reads += 1
            return (self.reads <= 3, np.zeros((4, 4, 3), np.uint8) if self.reads <= 3 else None)

        def release(self) -> None:
            pass

    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    source = open_source("0")
    assert isinstance(source, CameraSource)
    assert (source.kind, source.is_video, source.fps, source.stem) == ("camera", True, 25.0, "camera0")
    frames = list(source)
    assert [f.name for f in frames] == ["frame_000000", "frame_000001", "frame_000002"]
    assert all(b.stamp >= a.stamp for a, b in itertools.pairwise(frames))


def _write_noise_video(path: Path, fourcc: str, frames: int) -> Path:
    """Noise frames, so each takes real room in the file and a cut lands mid-stream."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 10.0, (64, 48))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (48, 64, 3), np.uint8))
    writer.release()
    return path


def _truncated_avi(folder: Path) -> Path:
    """The second half cut off (an interrupted copy); the AVI header still counts 30 frames."""
    path = _write_noise_video(folder / "clip.avi", "MJPG", frames=30)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _mp4_damaged_mid_file(folder: Path) -> Path:
    """An eighth of the file zeroed in the middle (a bad sector); the index at the end survives."""
    path = _write_noise_video(folder / "clip.mp4", "mp4v", frames=30)
    data = bytearray(path.read_bytes())
    middle, length = len(data) // 2, len(data) // 8
    data[middle : middle + length] = bytes(length)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("damage", [_truncated_avi, _mp4_damaged_mid_file])
def test_video_that_ends_before_its_frame_count_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage
) -> None:
    path = damage(tmp_path)
    source = open_source(str(path))
    assert source.frame_count == 30  # the header still announces every frame
    with caplog.at_level(logging.WARNING, logger="pose_perception.sources"):
        frames = list(source)
    assert 0 < len(frames) < 30
    assert source.missing_frames == 30 - len(frames)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0] and f"after {len(frames)} of the 30 frames" in warnings[0]


def test_complete_video_and_stopping_early_are_not_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = open_source(str(_write_noise_video(tmp_path / "clip.avi", "MJPG", frames=6)))
    with caplog.at_level(logging.WARNING, logger="pose_perception.sources"):
        assert len(list(source)) == 6
        assert len(list(itertools.islice(source, 2))) == 2  # --max-frames: the reader stops, not the file
    assert source.missing_frames == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# ---------------------------------------------------------------------------- size limit before decoding


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp"])
def test_header_size_is_the_decoded_size(tmp_path: Path, ext: str) -> None:
    path = _write_image(tmp_path / f"img{ext}", 9, size=(37, 53))
    assert file_image_size(path) == (37, 53)
    assert file_image_size(write_huge_png(tmp_path / "huge.png")) == (40000, 40000)


def test_single_image_over_the_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    huge = write_huge_png(tmp_path / "huge.png")
    with pytest.raises(ValueError, match=r"huge\.png: 40000x40000 = 1600000000 pixels, more than input\.max"):
        open_source(str(huge), max_pixels=4096 * 4096)


def test_folder_skips_images_over_the_limit_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write_image(tmp_path / "a.png", 1)
    write_huge_png(tmp_path / "b.png", 20000, 20000)
    with caplog.at_level(logging.WARNING, logger="pose_perception.sources"):
        source = open_source(str(tmp_path), max_pixels=4096 * 4096)
    assert [f.name for f in source] == ["a.png"]
    assert [r.getMessage() for r in caplog.records] == [
        f"skipping {tmp_path / 'b.png'}: 20000x20000 = 400000000 pixels, more than "
        "input.max_image_pixels=16777216"
    ]


def test_a_jpeg_hiding_its_size_is_refused_before_decoding(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A few KB that decode to 3000x3000 (30000x30000 would be 2.7 GB): refused unread."""
    ok, encoded = cv2.imencode(".jpg", np.full((32, 48, 3), 90, np.uint8))
    assert ok
    path = tmp_path / "hidden.jpg"
    path.write_bytes(jpeg_hiding_its_size(encoded.tobytes(), 3000, 3000))
    with pytest.raises(ValueError, match=r"^\S*hidden\.jpg: JPEG frame header not found in its first"):
        open_source(str(path), max_pixels=4096 * 4096)
    _write_image(tmp_path / "a.png", 1)
    with caplog.at_level(logging.WARNING, logger="pose_perception.sources"):
        assert [f.name for f in open_source(str(tmp_path), max_pixels=4096 * 4096)] == ["a.png"]
    assert "skipping" in caplog.text and "hidden.jpg: JPEG frame header not found" in caplog.text


def test_formats_without_a_parsed_header_are_checked_after_decoding(tmp_path: Path) -> None:
    path = _write_image(tmp_path / "img.tiff", 9, size=(40, 50))
    assert file_image_size(path) is None
    with pytest.raises(ValueError, match=r"img\.tiff: 50x40 = 2000 pixels, more than"):
        list(open_source(str(path), max_pixels=1999))
    assert len(list(open_source(str(path), max_pixels=2000))) == 1


def test_video_over_the_limit_is_refused_by_its_frame_size(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "clip.mp4")
    with pytest.raises(ValueError, match=r"clip\.mp4: frames of 64x48 = 3072 pixels, more than"):
        open_source(str(path), max_pixels=3071)
    assert open_source(str(path), max_pixels=3072).frame_count == 5
