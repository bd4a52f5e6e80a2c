"""The command line's parser, derived from each command's signature: what it accepts, what it
refuses (one line, exit 2), and the words it passes on to a profiled script untouched."""

from __future__ import annotations

import enum
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from dldoctor.cli import app as real_app
from dldoctor.cli.app import App, Argument, Option


class Shape(str, enum.Enum):
    round = "round"
    square = "square"


demo = App("A demo.", "The end.")
seen: dict[str, object] = {}


@demo.command(rest=True)
def run(
    target: str = Argument(..., metavar="SCRIPT", help="What to run."),
    args: Optional[list[str]] = Argument(None, metavar="[ARGS]...", help="Its arguments."),
    module: bool = Option(False, "-m", help="A module."),
    steps: Optional[int] = Option(None, "--steps", min=1, help="Steps."),
    rate: float = Option(10.0, "--rate", min=0.5, max=100.0, help="Per second (50%)."),
    tags: Optional[list[str]] = Option(None, "--tag", help="Repeatable."),
) -> None:
    """Run a thing.

    Second `paragraph`."""
    seen.update(target=target, args=args, module=module, steps=steps, rate=rate, tags=tags)


@demo.command("make")
def make_things(
    names: list[str] = Argument(..., help="Things."),
    shape: Shape = Option(Shape.round, "--shape", "-s", help="Their shape."),
    out: Optional[Path] = Option(None, "--out", help="Where."),
    dry_run: bool = Option(False, "--dry-run", help="Nothing."),
    section: Optional[str] = Argument(None, help="Optional."),
) -> None:
    """Make things."""
    seen.update(names=names, shape=shape, out=out, dry_run=dry_run, section=section)


def call(*words: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    seen.clear()
    with pytest.raises(SystemExit) as ended:
        demo(list(words))
    out, err = capsys.readouterr()
    return int(ended.value.code or 0), out, err


def test_defaults_are_the_declared_ones_and_given_values_are_converted(capsys) -> None:
    assert call("run", "x.py", capsys=capsys)[0] == 0
    assert seen == dict(target="x.py", args=[], module=False, steps=None, rate=10.0, tags=None)
    call("make", "a", "-s", "square", "--out", "r.json", capsys=capsys)
    assert seen["shape"] is Shape.square and seen["out"] == Path("r.json")
    assert seen["names"] == ["a"] and seen["section"] is None and seen["dry_run"] is False
    call("run", "--tag", "a", "--tag=b", "x.py", capsys=capsys)
    assert seen["tags"] == ["a", "b"]


def test_every_word_after_the_script_is_the_scripts_even_our_own_options(capsys) -> None:
    code, _, _ = call(
        "run", "-m", "--steps", "3", "pkg.mod", "--steps", "5", "-m", "-h", capsys=capsys
    )
    assert code == 0
    assert seen["target"] == "pkg.mod" and seen["module"] is True and seen["steps"] == 3
    assert seen["args"] == ["--steps", "5", "-m", "-h"]


def test_options_may_follow_positional_arguments_without_rest(capsys) -> None:
    assert call("make", "a", "--dry-run", "b", capsys=capsys)[0] == 0
    assert seen["names"] == ["a", "b"] and seen["dry_run"] is True


@pytest.mark.parametrize(
    ("words", "accepted"),
    [
        (("--rate", "0.5"), True),  # at the lower bound
        (("--rate", "0.49"), False),
        (("--rate", "100"), True),  # at the upper bound
        (("--rate", "100.01"), False),
        (("--rate", "nan"), False),
        (("--rate", "fast"), False),
        (("--steps", "1"), True),
        (("--steps", "0"), False),
        (("--steps", "1.5"), False),
    ],
)
def test_bounds_hold_at_below_and_above(words, accepted, capsys) -> None:
    code, out, err = call("run", *words, "x.py", capsys=capsys)
    assert (code == 0) is accepted, err
    if not accepted:
        assert code == 2 and out == "" and len(err.splitlines()) == 1
        assert err.startswith(f"dldoctor: error: argument {words[0]}: ")


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (("make", "a", "--shape", "oval"), "invalid choice: 'oval'"),
        (("make", "a", "--dryrun"), "no such option: --dryrun; did you mean --dry-run?"),
        (("make", "a", "b", "c", "--dry-run", "--out"), "--out: expected one argument"),
        (("make",), "required: names"),
        (("run",), "required: SCRIPT (see `dldoctor run --help`)"),
        (("mak", "a"), "no such command 'mak'; did you mean 'make'?"),
        (("--verbose",), "no such option: --verbose"),
        (("make", "--dry", "a"), "no such option: --dry"),  # no abbreviations
        (("make", "a", "--x\x1b]52;c;eA==\x07"), "no such option: --x (see"),  # cleaned
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(words, says, capsys) -> None:
    code, out, err = call(*words, capsys=capsys)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("dldoctor: error: ")
    assert says in err and "\x1b" not in err and "\x07" not in err


def test_help_shows_each_paragraph_and_option_and_exits_0(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = call("run", "--help", capsys=capsys)
    assert code == 0 and seen == {}  # the command did not run
    assert out.startswith("usage: dldoctor run [OPTIONS] SCRIPT [ARGS]...\n")
    assert "Run a thing.\n\nSecond paragraph.\n" in out
    assert "--rate NUMBER" in out and "Per second (50%). (default: 10.0)" in out
    code, out, _ = call("--help", capsys=capsys)
    assert code == 0 and "  run   Run a thing.\n  make  Make things.\n" in out
    assert call(capsys=capsys)[0] == 2  # no command: the help, on stderr, as a usage error


def test_a_parameter_without_a_declaration_is_refused_when_its_command_runs(capsys) -> None:
    bare = App("", "")

    @bare.command()
    def odd(value: int = 3) -> None:
        """Odd."""

    with pytest.raises(TypeError, match="'value' is not declared"):
        bare(["odd"])


def test_the_real_commands_usage_errors_are_one_line_and_exit_2() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for words in (["check", "--format", "xml"], ["check", "--timeout", "0.09"], ["nosuch"]):
        run = subprocess.run(
            [sys.executable, "-m", "dldoctor", *words],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert run.returncode == 2 and run.stdout == "", words
        assert len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr


def test_every_real_command_builds_its_parser() -> None:
    from dldoctor.cli.parser import build

    for name, func in real_app.commands.items():
        parser, _ = build("dldoctor", name, func, name == "profile")
        assert parser.format_help()


def test_ctrl_c_in_a_command_is_one_line_and_exit_130(capsys) -> None:
    stopped = App("", "")

    @stopped.command()
    def wait() -> None:
        """Wait."""
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as ended:
        stopped(["wait"])
    assert ended.value.code == 130
    assert capsys.readouterr().err == "dldoctor: interrupted\n"


def test_the_version_and_the_help_of_the_real_command_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def run(*words: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "dldoctor", *words]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)

    from dldoctor import __version__

    assert run("--version").stdout == f"dldoctor {__version__}\n"
    listed = run("-h")
    assert listed.returncode == 0 and "Commands:" in listed.stdout
    assert all(f"\n  {name} " in listed.stdout for name in real_app.commands)
    bare = run()
    assert bare.returncode == 2 and bare.stdout == "" and "Commands:" in bare.stderr
