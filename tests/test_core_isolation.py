"""studio_tui.core never imports Textual (the layers only import downwards)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import importlib, json, pkgutil, sys

def textual():
    return sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))

import studio_tui.core as core
names = []
for info in pkgutil.walk_packages(core.__path__, prefix="studio_tui.core."):
    importlib.import_module(info.name)
    names.append(info.name)
after_core = textual()
ui_after_core = sorted(m for m in sys.modules if m.startswith("studio_tui.ui"))
import studio_tui.cli, studio_tui.headless
print(json.dumps({"modules": names, "textual": after_core, "ui": ui_after_core, "textual_after_cli": textual()}))
"""


def test_core_never_imports_textual():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    # the walk really covered the package, subpackages included
    for expected in (
        "studio_tui.core.events",
        "studio_tui.core.reducer",
        "studio_tui.core.orchestrator",
        "studio_tui.core.store.workspace",
        "studio_tui.core.agents.scripted",
    ):
        assert expected in found["modules"]
    assert found["textual"] == []
    assert found["ui"] == []
    # the headless command line does not pull Textual in either (the dashboard is imported lazily)
    assert found["textual_after_cli"] == []
