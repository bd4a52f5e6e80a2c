"""Secrets by shape never reach an output: check's JSON, terminal and Markdown, profile's report,
summary and trace, with or without --redact (issue 10, item 11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.profilers.helpers import read_report

PASSWORD = "Hunter2Secret"  # in URL credentials
HF = "hf_" + "Qw3rTy5Ui7Op9As1Df3Gh5Jk7Lz9Xc1Vb3"  # a made-up token of Hugging Face's shape
SECRETS = (PASSWORD, HF[3:], "PlainPw1", "TokenVal2", "ApiKey3")


def dldoctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dldoctor", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text[:2000])


ENV = {
    "TORCH_HUB_PROXY": f"http://bob:{PASSWORD}@proxy.corp:3128",
    "HTTPS_PROXY": f"http://bob:{PASSWORD}@proxy.corp:3128",
    "PIP_INDEX_URL": f"https://__token__:{PASSWORD}@pypi.corp/simple",
    "PIP_EXTRA_INDEX_URL": f"https://{HF}@hub.corp/simple",
    "TF_SOME_SETTING": HF,
}


@pytest.mark.parametrize("redact", [[], ["--redact"]])
def test_check_withholds_url_credentials_and_tokens_in_every_format(
    tmp_path: Path, redact: list[str]
) -> None:
    report = tmp_path / "r.json"
    outputs = []
    for fmt in ("terminal", "json", "markdown"):
        result = dldoctor(
            "check", "--quick", "-v", "--format", fmt, "--json", str(report), *redact, env=ENV
        )
        assert result.returncode in (0, 1), result.stderr
        outputs += [result.stdout, result.stderr, report.read_text(encoding="utf-8")]
    assert_clean(*outputs)
    variables = json.loads(outputs[-1])["facts"]["env"]["variables"]
    assert variables["HTTPS_PROXY"] == "http://<withheld>@proxy.corp:3128"
    assert variables["PIP_EXTRA_INDEX_URL"] == "https://<withheld>@hub.corp/simple"
    assert variables["TF_SOME_SETTING"] == "hf_<withheld>"
    assert "HTTPS_PROXY=http://<withheld>@proxy.corp:3128" in outputs[0]  # the -v terminal view


def test_check_from_an_old_report_withholds_what_it_carried(tmp_path: Path) -> None:
    written = tmp_path / "old.json"
    assert dldoctor("check", "--quick", "--json", str(written)).returncode in (0, 1)
    document = json.loads(written.read_text(encoding="utf-8"))
    # As a dldoctor without the rule would have written it.
    document["facts"]["env"]["variables"]["HTTPS_PROXY"] = ENV["HTTPS_PROXY"]
    document["facts"]["python"]["executable"] = f"/opt/{HF}/bin/python"
    written.write_text(json.dumps(document), encoding="utf-8")
    again = tmp_path / "again.json"
    outputs = []
    for fmt in ("terminal", "json", "markdown"):
        result = dldoctor(
            "check", "--from", str(written), "-v", "--format", fmt, "--json", str(again)
        )
        assert result.returncode in (0, 1), result.stderr
        outputs += [result.stdout, result.stderr, again.read_text(encoding="utf-8")]
    fixed = dldoctor("fix", "--from", str(written), "--dry-run")
    assert_clean(*outputs, fixed.stdout, fixed.stderr)


SCRIPT = """\
import sys
sys.excepthook = lambda *exc: None  # the script's own stderr stays quiet: only dldoctor's is read
raise ConnectionError("cannot reach " + sys.argv[2] + " with " + sys.argv[-1])
"""


def test_profile_withholds_secrets_of_the_arguments_and_the_exception(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT, encoding="utf-8")
    report, trace = tmp_path / "report.json", tmp_path / "trace.json"
    result = dldoctor(
        "profile", "--json", str(report), "--trace", str(trace), "-v", str(script),
        "--db-url", f"postgres://u:{PASSWORD}@db.corp/train",
        "--password", "PlainPw1", "--token=TokenVal2", "--api-key", "ApiKey3", HF,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    document = read_report(report)
    assert_clean(result.stdout, result.stderr, report.read_text(), trace.read_text())
    assert document["profile"]["target"]["args"] == [
        "--db-url", "postgres://<withheld>@db.corp/train",
        "--password", "<withheld>", "--token=<withheld>", "--api-key", "<withheld>",
        "hf_<withheld>",
    ]  # fmt: skip
    assert document["profile"]["exit"]["exception"] == (
        "ConnectionError: cannot reach postgres://<withheld>@db.corp/train with hf_<withheld>"
    )
    names = [
        e["args"]["name"]
        for e in json.loads(
            trace.read_text() + ("" if trace.read_text().rstrip().endswith("]") else "]")
        )
        if e.get("name") == "process_name" and e.get("pid")
    ]
    assert names and "postgres://<withheld>@db.corp/train" in names[0]
