"""Apps import one way only, in the layers of pyproject.toml's import-linter contracts."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.processes import ROOT

LINT = str(Path(sys.executable).parent / "lint-imports")
APPS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT, "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_the_codebase_keeps_the_one_way_import_rule():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "app, imported",
    [
        ("contacts", "campaigns"),  # upward
        ("core", "contacts"),  # the lowest app imports nothing of ours
        ("webhooks", "analytics"),  # upward, between the newer apps
        ("intent", "contacts"),  # sideways, between siblings
    ],
)
def test_an_import_against_the_layers_breaks_the_rule(tmp_path, app, imported):
    for name in APPS:
        shutil.copytree(
            ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "migrations")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / app / "sneaky.py").write_text(f"import {imported}  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert f"{app}.sneaky -> {imported}" in result.stdout
