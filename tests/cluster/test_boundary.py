"""The dldoctor side of --cluster imports no framework: torch runs only in the rank's child."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.cluster import launching

FRAMEWORKS = ("torch", "tensorflow", "jax", "paddle", "keras", "onnxruntime")
MODULES = (
    "dldoctor.cli.cluster",
    "dldoctor.cluster.launch",
    "dldoctor.cluster.session",
    "dldoctor.cluster.state",
    "dldoctor.cluster.judge",
    "dldoctor.cluster.compare",
    "dldoctor.cluster.links",
    "dldoctor.document.cluster",
    "dldoctor.report.cluster_view",
)


def test_the_cluster_modules_import_no_framework() -> None:
    code = (
        f"import sys\nfor m in {MODULES!r}: __import__(m)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FRAMEWORKS!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=launching.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_child_is_shipped_as_source_not_imported() -> None:
    from dldoctor.cluster import session

    source = session.CHILD.read_text(encoding="utf-8")
    assert "import torch" in source
    assert not re.search(r"^\s*(from|import) dldoctor", source, re.MULTILINE)
