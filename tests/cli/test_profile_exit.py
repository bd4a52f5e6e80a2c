"""`dldoctor profile`'s end: the report is written, and the interpreter's teardown is spared
its last full garbage collection (every object alive is frozen before the exit)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROGRAM = """
import gc, json, runpy, sys
sys.argv = ["dldoctor", "profile", "--json", sys.argv[1], sys.argv[2]]
code = None
try:
    runpy.run_module("dldoctor", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "frozen": gc.get_freeze_count()}))
"""


def test_the_profile_command_freezes_what_is_alive_once_its_report_is_written(tmp_path: Path):
    script, report = tmp_path / "plain.py", tmp_path / "report.json"
    script.write_text("print('ran')\n")
    run = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(report), str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    end = json.loads(run.stdout.strip().splitlines()[-1])
    assert end["code"] == 0, run.stderr
    assert json.loads(report.read_text())["profile"]["exit"]["status"] == "completed"
    assert end["frozen"] > 1000  # the imports' objects, not a handful
