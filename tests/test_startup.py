"""Start-up: help and argument errors import neither torch nor transformers; loading the model in Python prints
nothing (no weight-loading bars, no library deprecation warnings), as in the command line."""

from __future__ import annotations

import subprocess
import sys

HELP_ONLY = """
import sys
from typer.testing import CliRunner
from agrochat.cli import app
r = CliRunner()
assert r.invoke(app, ["--help"]).exit_code == 0
for cmd in ("predict", "scan", "variants", "train", "chat", "explain"):
    assert r.invoke(app, [cmd, "--help"]).exit_code == 0, cmd
assert r.invoke(app, ["predict", "--format", "xml", "-s", "ACGT"]).exit_code != 0
assert r.invoke(app, ["scan"]).exit_code != 0
heavy = sorted(m for m in ("torch", "transformers", "peft", "datasets") if m in sys.modules)
assert not heavy, heavy
"""


def test_help_and_argument_errors_import_no_torch():
    subprocess.run([sys.executable, "-c", HELP_ONLY], check=True, timeout=120)


def test_loading_in_python_is_quiet():
    code = "from agrochat.chat import Assistant\nAssistant.from_pretrained()\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout == "" and out.stderr == "", out.stderr[-500:]
