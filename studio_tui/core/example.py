"""The bundled example workspace: found in the package (installed) or the repository (editable)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .errors import InputError

_PACKAGE = Path(__file__).resolve().parent.parent


def example_source() -> Path:
    """The example `.studio` folder shipped with this installation."""
    for candidate in (_PACKAGE / "_example", _PACKAGE.parent / ".studio-example"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise InputError("the bundled example workspace is missing from this installation (reinstall studio-tui)")


def make_demo_workspace(into: Path | None = None) -> Path:
    """Copy the example into a fresh project folder and return its `.studio` path."""
    project = Path(tempfile.mkdtemp(prefix="studio-demo-")) if into is None else into
    target = project / ".studio"
    if target.exists():
        raise InputError(f"{target} already exists: choose an empty folder for the demo")
    project.mkdir(parents=True, exist_ok=True)
    shutil.copytree(example_source(), target, ignore=shutil.ignore_patterns("lock", "sessions"))
    return target
