"""Apps import one way only: contacts <- outreach <- campaigns <- config <- demo."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.processes import ROOT

LINT = str(Path(sys.executable).parent / "lint-imports")


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


def test_an_upward_import_breaks_the_rule(tmp_path):
    for name in ("contacts", "outreach", "campaigns", "config", "demo"):
        shutil.copytree(
            ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "migrations")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "contacts" / "sneaky.py").write_text("from campaigns import models  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "contacts.sneaky -> campaigns" in result.stdout
