"""pose_perception: pip-installable core library + CLI; also the ROS 2 package payload."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
PACKAGE = "pose_perception"


def _share(folder: str) -> list[str]:
    return sorted(str(p) for p in (ROOT / folder).glob("*") if p.is_file())


setup(
    name="pose-perception",
    version="0.1.0",
    description="Real-time multi-person RTMPose for ROS 2 robots: core library, CLI, nodes",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # training/ stays a top-level folder (design card) but installs as pose_perception.training
    packages=[*find_packages(include=[PACKAGE, f"{PACKAGE}.*"]), f"{PACKAGE}.training"],
    package_dir={f"{PACKAGE}.training": "training"},
    package_data={PACKAGE: ["py.typed", "bundled/*.onnx", "bundled/*.md", "bundled/skeletons/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", _share("config")),
        (f"share/{PACKAGE}/launch", _share("launch")),
        (f"share/{PACKAGE}/msg", _share("msg")),
    ],
    install_requires=[
        "numpy>=1.23",
        "opencv-contrib-python-headless>=4.7",  # contrib: OpenCV 5 keeps the HOG people detector there
        "onnxruntime>=1.16",
        "pooch>=1.8",  # model zoo downloads: temp file, atomic rename, cache (zoo/fetch.py)
        "pyyaml>=6",
        "scipy>=1.9",  # Hungarian assignment in the tracker
        "tqdm>=4.60",
        "urllib3>=2",  # under pooch/requests: a transfer shorter than its Content-Length fails
    ],
    extras_require={
        # torch is never a hard requirement: an unpinned torch pulls GB of CUDA wheels,
        # and robots usually run ONNX Runtime only. Install torch yourself (pinned).
        "torch": ["torch>=2.1", "onnx>=1.15"],
        # albumentations/albucore are NOT listed: they require opencv-python-headless,
        # whose cv2/ folder would overwrite our contrib build's. scripts/setup_env.sh
        # installs them with --no-deps; their other runtime deps are listed here.
        "train": [
            "torch>=2.1",
            "onnx>=1.15",
            "pycocotools>=2.0.7",
            "matplotlib>=3.7",
            "pydantic>=2.9.2",  # albumentations
            "simsimd>=5.9.2",  # albucore
            "stringzilla>=3.10.4",  # albucore
        ],
        "gpu": ["onnxruntime-gpu>=1.16"],
        # The ROS 2 node's Python side; rclpy and message packages come from the ROS
        # install (or the ros-jazzy-* wheels: scripts/setup_ros_env.sh).
        "bag": ["rosbags>=0.10"],
        # motmetrics: standard tracking metrics (MOTA, IDF1, id switches) for the tracker tests/bench.
        "dev": ["pytest>=8", "ruff>=0.6", "mypy>=1.10", "types-PyYAML", "motmetrics>=1.4"],
    },
    entry_points={
        "console_scripts": [
            "pose-perception = pose_perception.cli:main",
            "rtmpose_node = pose_perception.ros.rtmpose_node:main",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
