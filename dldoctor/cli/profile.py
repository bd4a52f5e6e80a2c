"""`dldoctor profile`: run a training script unmodified and say where its time goes."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

from dldoctor.cli.app import Argument, Exit, Option, app
from dldoctor.cli.common import fail


@app.command(rest=True)  # every word after SCRIPT is the script's
def profile(
    target: str = Argument(
        ..., metavar="SCRIPT", help="The training script (with -m: the module) to run."
    ),
    args: Optional[list[str]] = Argument(
        None, metavar="[ARGS]...", help="The script's own arguments, passed on unchanged."
    ),
    module: bool = Option(False, "-m", help="Run SCRIPT as a module, like `python -m`."),
    steps: Optional[int] = Option(
        None, "--steps", min=1, help="Stop the script cleanly after this many training steps."
    ),
    duration_s: Optional[float] = Option(
        None, "--duration", min=0.1, help="Stop the script cleanly this many seconds after start."
    ),
    rate_hz: float = Option(10.0, "--rate", min=0.5, max=100.0, help="CPU/GPU samples per second."),
    json_path: Optional[Path] = Option(None, "--json", help="Write the JSON report here."),
    trace_path: Optional[Path] = Option(
        None, "--trace", help="Write a Chrome trace-event timeline here (opens in Perfetto)."
    ),
    fail_if: Optional[list[str]] = Option(
        None,
        "--fail-if",
        help="Exit 1 if this holds, for CI: a verdict (input-bound) or a condition "
        "(data-wait>0.3, gpu-busy<50%). Repeatable.",
    ),
    tune: bool = Option(
        False,
        "--tune",
        help="Then re-run the script in short trials (--steps each, 40 without) with other "
        "DataLoader settings, and report the fastest measured.",
    ),
    verbose: bool = Option(False, "--verbose", "-v", help="Show the evidence."),
    redact_private: bool = Option(
        False, "--redact", help="Replace home paths, user and host names, GPU UUIDs."
    ),
) -> None:
    """Run a training script unmodified and say where its time goes: waiting for data, the GPU,
    or the CPU, with what to change. Put dldoctor's options before SCRIPT.

    Exit codes: the script's own exit code when it fails (128+N if killed by signal N); else
    1 when a --fail-if condition holds; else 0 (also when --steps/--duration stopped it);
    2 for usage errors or when dldoctor itself fails. The summary goes to stderr.
    """
    import os

    from dldoctor.profilers.runner import Target
    from dldoctor.profilers.session import Options, run

    started = time.perf_counter()
    conditions: list[object] = []
    if fail_if:  # their parser only when there are some: before the script starts, it waits
        from dldoctor.profilers import gate

        try:
            conditions = [gate.parse(text) for text in fail_if]
        except gate.GateError as exc:
            fail(str(exc))
    if not hasattr(os, "fork"):
        fail("dldoctor profile needs Linux or macOS (it passes a pipe to the script)")
    if not module and not Path(target).is_file():
        fail(f"can't open file {target!r}: no such file")
    run_target = Target(target, tuple(args or ()), module)
    options = Options(steps, duration_s, rate_hz, trace_path)
    try:
        session = run(run_target, options, started=_prewarm)
    except OSError as exc:
        fail(f"cannot start {run_target.describe()}: {exc.strerror or exc}")
    from dldoctor.facts.withhold import safe_args
    from dldoctor.profilers.report import build

    words = (["-m"] if module else []) + [target, *(args or [])]
    command = "dldoctor profile " + " ".join(safe_args(words))
    tuner = _tuner(run_target, options, steps) if tune else None
    elapsed = time.perf_counter() - started
    report = build(session, conditions, command, elapsed, redact_private, tuner)
    _emit_profile(report, json_path, trace_path, verbose)
    _spare_the_teardown()
    raise Exit(report.exit_code())


def _spare_the_teardown() -> None:
    """Everything alive now moves out of the collector's reach: the interpreter's teardown
    then skips its last full collection, which walked every object dldoctor's imports made
    (~20-30 ms of every run's tail on a 2-core machine). Nothing here needs it: the report
    and the trace are written and closed, NVML is shut down, the script has been reaped."""
    import gc

    gc.freeze()


def _prewarm() -> None:
    """Import what the report needs while the script runs, not after it: off the fixed cost."""

    def load() -> None:
        try:
            import dldoctor.facts.withhold
            import dldoctor.profilers.analysis
            import dldoctor.profilers.report
            import dldoctor.profilers.rules
            import dldoctor.report.profile_terminal  # noqa: F401
        except Exception:  # imported again where needed, and failing there if it must
            pass

    import threading

    threading.Thread(target=load, name="dldoctor-prewarm", daemon=True).start()


def _tuner(target: object, options: object, steps: Optional[int]) -> object:
    """The ``--tune`` trials, run after the baseline is analysed (progress on stderr)."""
    from dldoctor.profilers import tune
    from dldoctor.profilers.analysis import analyse
    from dldoctor.profilers.session import run

    def trial(env: dict[str, str], n: int, duration_s: float) -> dict[str, object]:
        settings = json.loads(env["DLDOCTOR_PROFILE_TRIAL"])["settings"]
        shown = ", ".join(f"{k}={v}" for k, v in settings.items())
        print(f"dldoctor profile --tune: trial with {shown} ({n} steps)", file=sys.stderr)
        return analyse(run(target, tune.with_env(options, env, n, duration_s)))  # type: ignore[arg-type]

    return lambda profile: tune.run(profile, trial, steps)


def _emit_profile(
    report: object, json_path: Optional[Path], trace_path: Optional[Path], verbose: bool
) -> None:
    import os
    import shutil

    from dldoctor.profilers.report import ProfileReport
    from dldoctor.report import profile_terminal
    from dldoctor.report.terminal import Out

    assert isinstance(report, ProfileReport)
    if json_path is not None:  # first: a closed stderr must not cost the report
        from dldoctor.facts.withhold import withhold_all

        document = withhold_all(report.to_dict())  # secrets by shape, whatever carried them
        if report.redacted:
            from dldoctor.document.redact import redact

            document = redact(document)
        try:
            json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write the report to {json_path}: {exc.strerror or exc}")
    if report.profile["exit"].get("not_started"):
        return  # python's one line ("python: No module named x") is all a plain run prints
    if sys.stderr.isatty():
        color = "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        out = Out(sys.stderr, color=color, width=shutil.get_terminal_size().columns)
    else:
        out = Out(sys.stderr)
    try:
        out.line()
        profile_terminal.render(report, out, verbose=verbose)
        if json_path is not None:
            out.line(f"Report written to {json_path}")
        if trace_path is not None:
            out.line(f"Trace written to {trace_path} (open it in https://ui.perfetto.dev)")
        sys.stderr.flush()
    except BrokenPipeError:  # stderr piped into `head`: the summary is the reader's to cut
        pass
