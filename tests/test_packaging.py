"""The built wheel carries the model, the MTCNN weights and the demo, and runs away from the checkout."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project built as a wheel and installed (--no-deps) into an empty target folder."""
    root = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(root / "dist"), str(REPO)], capture_output=True, text=True, cwd=root)
    assert build.returncode == 0, build.stderr
    (wheel,) = (root / "dist").glob("sphereapp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("sphereface20.safetensors", "MODEL.md", "demo/hikers_4s.mp4", "demo/gallery/Hiker_in_teal.jpg",
                    "mtcnn/pnet.pt", "mtcnn/rnet.pt", "mtcnn/onet.pt", "mtcnn/README.md"):
        assert f"sphereapp/assets/{shipped}" in names
    target = root / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, cwd=root)
    assert install.returncode == 0, install.stderr
    return target


def _away(target: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`python *args` in an empty folder with only the installed package (and the test's dependencies) importable."""
    env = {**os.environ, "PYTHONPATH": str(target), "SPHEREAPP_HOME": str(tmp_path / "home")}
    env.pop("SPHEREAPP_MODEL", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=600)


def test_the_installed_package_is_the_one_imported(installed, tmp_path):
    result = _away(installed, tmp_path, "-c", "import sphereapp, training; print(sphereapp.__file__, training.__file__)")
    assert result.returncode == 0 and result.stdout.count(str(installed)) == 2, result.stderr


def test_demo_runs_from_the_installed_wheel(installed, tmp_path):
    result = _away(installed, tmp_path, "-m", "sphereapp", "demo", "-o", "demo.mp4")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "demo.mp4").stat().st_size > 0 and "Hiker in teal" in result.stderr
    models = _away(installed, tmp_path, "-m", "sphereapp", "models")
    assert models.returncode == 0  # the default model is the installed package's own file
    assert f"file: {installed / 'sphereapp' / 'assets' / 'sphereface20.safetensors'}" in models.stdout
