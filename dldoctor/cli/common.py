"""What the commands share: the exit on a usage error, the matrix, the facts, the report's output."""

from __future__ import annotations

import contextlib
import enum
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Optional

from dldoctor.cli.app import Exit, echo

if TYPE_CHECKING:
    from collections.abc import Callable

    from dldoctor.facts.model import Facts
    from dldoctor.matrix import Matrix
    from dldoctor.probes.probe import ProbeEvent, ProbeOptions
    from dldoctor.report.progress import Progress


class OutputFormat(str, enum.Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, and the exit; the message may quote a report or a subprocess: cleaned."""
    from dldoctor.report.clean import clean

    echo(f"dldoctor: error: {clean(message)}", err=True)
    raise Exit(code)


def load_matrix() -> Matrix:
    from dldoctor.matrix import MatrixError, load

    try:
        return load()
    except MatrixError as exc:
        fail(f"the compatibility matrix is broken: {exc}")
        raise  # unreachable: fail exits


def gather_facts(
    matrix: Matrix,
    python: Optional[str],
    timeout_s: float,
    from_report: Optional[Path],
    interpreter_timeout_s: float = 60.0,
    nvml_timeout_s: float = 10.0,
    on_early: Optional[Callable[[Facts], None]] = None,
) -> tuple[Facts, str]:
    """This machine's facts (or another interpreter's, or an old report's), and how they came.

    ``timeout_s`` bounds each external command, ``nvml_timeout_s`` NVML (within 2-10 s), and
    ``interpreter_timeout_s`` the gatherer run inside ``--python``; ``on_early`` gets the
    system and interpreter facts first (see ``facts.gather``).
    """
    from dldoctor.facts import GatherError, gather
    from dldoctor.facts.host import Host

    if from_report is not None:
        # Only here: reading a report imports its schema, validator and upgrades.
        from dldoctor.document.load import ReportError, facts_from_report

        if python is not None:
            fail("--from and --python cannot be combined: a report's facts are already gathered")
        try:
            return facts_from_report(from_report), f" --from {from_report.name}"
        except ReportError as exc:
            fail(str(exc))
    try:
        facts = gather(
            matrix,
            Host(command_timeout_s=timeout_s, nvml_timeout_s=nvml_timeout_s),
            python=python,
            interpreter_timeout_s=interpreter_timeout_s,
            on_early=on_early,
        )
    except GatherError as exc:
        fail(str(exc))
    return facts, _source(python)


def _source(python: Optional[str]) -> str:
    """How the facts came, as the report's command says it."""
    return f" --python {python}" if python else ""


@contextlib.contextmanager
def reader_may_stop() -> Iterator[None]:
    """Output to a reader that may stop early (`dldoctor check | head -1`): the rest is dropped
    and the exit code stays the one the run earned (click would make it 1, "errors found").

    As the Python documentation advises for SIGPIPE, stdout is pointed at /dev/null so the
    interpreter's own last flush cannot fail again.
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)


def ensure_writable(path: Optional[Path]) -> None:
    """Refuse a --json path the report could not be written to now, not after all the work."""
    import os

    if path is None:
        return
    parent = path.parent
    if path.is_dir():
        why = "it is a directory"
    elif path.exists():
        why = "" if os.access(path, os.W_OK) else "permission denied"
    elif not parent.is_dir():
        why = "no such directory"
    else:
        why = "" if os.access(parent, os.W_OK | os.X_OK) else "permission denied"
    if why:
        fail(f"cannot write the report to {path}: {why}")


def emit_report(
    report: object,
    output_format: OutputFormat,
    json_path: Optional[Path],
    verbose: bool,
    extra: Optional[dict[str, object]] = None,
) -> None:
    """The report on stdout in ``output_format``, and as JSON in ``json_path``; ``extra``: more
    top-level keys of the JSON document (what `triage` learnt of the paste)."""
    from dldoctor.document.report import Report

    assert isinstance(report, Report)
    text = ""
    scrubber = None
    if report.redacted:
        from dldoctor.document.redact import redactor

        scrubber = redactor()
    # The document only when one is written: building and dumping it grows with the environment
    # (0.4 s for 3000 distributions) and the terminal and Markdown views never read it.
    if json_path is not None or output_format is OutputFormat.json:
        from dldoctor.facts.withhold import withhold_all

        # secrets by shape, whatever carried them
        document = withhold_all({**report.to_dict(), **(extra or {})})
        if scrubber is not None:
            document = scrubber.walk(document)
        text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    if json_path is not None:
        try:
            json_path.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write the report to {json_path}: {exc.strerror or exc}")
    with reader_may_stop():
        if output_format is OutputFormat.json:
            sys.stdout.write(text)
        elif output_format is OutputFormat.markdown:
            from dldoctor.facts.withhold import withhold
            from dldoctor.report import markdown

            def shown(text: str) -> str:
                text = withhold(text)
                return scrubber.scrub(text) if scrubber is not None else text

            sys.stdout.write(markdown.render(report, shown))
        else:
            from dldoctor.report import terminal

            out = terminal_out()
            assert isinstance(out, terminal.Out)
            terminal.render(report, out, verbose=verbose)
    if json_path is not None and output_format is not OutputFormat.json:
        echo(f"Report written to {json_path}", err=True)
    if scrubber is not None and (
        json_path is not None or output_format is not OutputFormat.terminal
    ):
        echo(f"dldoctor: {scrubber.summary()}", err=True)


def terminal_out() -> object:
    """Colour and wrapping on a terminal (NO_COLOR respected); plain, unwrapped lines elsewhere."""
    import os
    import shutil

    from dldoctor.report.terminal import Out

    if not sys.stdout.isatty():
        return Out(sys.stdout)
    color = "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    return Out(sys.stdout, color=color, width=shutil.get_terminal_size().columns)


def gather_and_probe(
    matrix: Matrix,
    python: Optional[str],
    timeout_s: float,
    probe: tuple[bool, bool, Optional[str], float, Optional[float]],
    interpreter_timeout_s: float = 60.0,
    nvml_timeout_s: float = 10.0,
    meanwhile: Optional[Callable[[], None]] = None,
) -> tuple[Facts, str]:
    """``gather_facts`` and the runtime probes overlapped: the probe children start as soon as the
    interpreter's packages, the cores and the memory are known, while NVML, the PCI bus, CUDA
    and the library map are still being gathered. ``probe``: quick, full, framework, the probe
    timeout, the memory limit in GiB. If gathering fails or is interrupted, the children are
    killed before the error goes on. ``meanwhile`` is the parent's own work done while the
    children run, once the static facts are in (`check` imports its judges then, not before
    the children start).
    """
    import dataclasses

    from dldoctor.facts import GatherInterrupted
    from dldoctor.probes import skipped

    options, flags = _probe_options(python, *probe)
    source = _source(python)
    if options is None:
        runtime = skipped("--quick: no framework imported")
        try:
            facts, source = gather_facts(
                matrix, python, timeout_s, None, interpreter_timeout_s, nvml_timeout_s
            )
        except GatherInterrupted as stopped:  # what was gathered is kept, and said so
            facts, runtime = stopped.facts, {**runtime, "interrupted": True}
        return dataclasses.replace(facts, runtime=runtime), source + flags
    from dldoctor.probes.probe import Running, start_probes

    progress = _progress()
    running: list[Running] = []

    def start(early: Facts) -> None:
        running.append(
            start_probes(early, matrix, options, on_event=_forward(progress) if progress else None)
        )

    try:
        try:
            facts, source = gather_facts(
                matrix, python, timeout_s, None, interpreter_timeout_s, nvml_timeout_s, start
            )
            # The facts are in: a Ctrl-C during the parent's own work ends the probes as one
            # while waiting for them would (the report is written), not half an import.
            interrupted = _holding_ctrl_c(meanwhile) if meanwhile is not None and running else False
        except GatherInterrupted as stopped:  # Ctrl-C: what was gathered and probed is kept
            facts, interrupted = stopped.facts, True
        except BaseException:  # a usage error, a gatherer that failed: kill them first
            for probes in running:
                probes.cancel()
            raise
        if running:
            runtime = running[0].finish(interrupted)
        elif interrupted:
            runtime = {
                **skipped("interrupted (Ctrl-C) before the probes started"),
                "interrupted": True,
            }
        else:
            runtime = skipped("the interpreter gave no facts")
    finally:
        if progress is not None:
            progress.close()
    return dataclasses.replace(facts, runtime=runtime), source + flags


def _holding_ctrl_c(work: Callable[[], None]) -> bool:
    """``work`` with Ctrl-C held until it ends (a fraction of a second); whether one came."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        work()  # only the main thread receives signals
        return False
    came: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    try:
        work()
    finally:
        signal.signal(signal.SIGINT, previous)
    return bool(came)


def _probe_options(
    python: Optional[str],
    quick: bool,
    full: bool,
    framework: Optional[str],
    timeout_s: float,
    memory_limit_gib: Optional[float],
) -> tuple[Optional[ProbeOptions], str]:
    """What to probe and how, from the options (usage errors exit here); None with --quick."""
    import os

    if quick:
        if full or framework:
            fail("--quick imports no framework: it cannot be combined with --full or --framework")
        return None, " --quick"
    from dldoctor.probes.plan import UnknownFramework, normalise
    from dldoctor.probes.probe import ProbeOptions

    try:
        wanted = normalise(framework.split(",")) if framework else None
    except UnknownFramework as exc:
        fail(f"--framework: {exc}")
    options = ProbeOptions(
        python=os.path.abspath(python) if python else sys.executable,
        frameworks=wanted,
        full=full,
        timeout_s=timeout_s,
        memory_limit_bytes=int(memory_limit_gib * 2**30) if memory_limit_gib else None,
    )
    flags = (" --full" if full else "") + (f" --framework {','.join(wanted)}" if wanted else "")
    return options, flags


def _progress() -> Optional[Progress]:
    """A live spinner block on a terminal's stderr; None (silence) anywhere else."""
    import os
    import shutil

    from dldoctor.probes.plan import PROBED
    from dldoctor.report.progress import Progress

    if not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        return None
    width = shutil.get_terminal_size().columns
    return Progress(sys.stderr, "NO_COLOR" not in os.environ, width, order=PROBED)


def _forward(progress: Progress) -> Callable[[ProbeEvent], None]:
    return lambda e: progress.event(e.kind, e.framework, e.detail, e.record)
