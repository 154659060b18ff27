"""The built distribution installs one import namespace, ``swarmdeck``, and works on its own.

swarmdeck goes into agents' own environments, where a top-level ``store`` or ``adapters``
(PyPI's AdapterHub installs one) would collide. The repository keeps the design card's folders
and links them into the package (``swarmdeck/store -> ../store``); this test proves the wheel
built from that tree holds real files under ``swarmdeck/`` only, and that a fresh virtualenv with
nothing but the wheel runs the CLI and finds the built-in adapters through their entry points.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("swarmdeck-*.whl")
    return built


def test_wheel_has_one_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"swarmdeck"}
    # The linked folders arrive as real files, themes' data included.
    for expected in (
        "swarmdeck/store/events.py",
        "swarmdeck/adapters/base.py",
        "swarmdeck/tui/app.py",
        "swarmdeck/themes/dark.toml",
    ):
        assert expected in names


def test_fresh_venv_runs_the_cli(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    help_text = subprocess.run(
        [str(env_dir / "bin" / "swarmdeck"), "--help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "Usage: swarmdeck" in help_text
    adapters = subprocess.run(
        [str(env_dir / "bin" / "swarmdeck"), "adapters"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    ).stdout
    for name in ("demo", "jsonl", "http", "claude-code", "mcp"):
        assert name in adapters
    # Nothing but swarmdeck is importable: the old top-level names are gone.
    probe = subprocess.run(
        [
            str(py),
            "-c",
            "import importlib.util as u; print([n for n in ('store', 'adapters', 'tui', 'themes')"
            " if u.find_spec(n)]); import swarmdeck.store.events",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    ).stdout
    assert probe.strip() == "[]"
