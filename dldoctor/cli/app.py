"""The command line's one declaration and its parser: a command is a function whose parameters
are its options (``Option``/``Argument`` defaults, their annotations the types); argparse
parses, and only the invoked command's parser is built (typer's import and its building of
every command were ~0.09 s of every run, half of what a static check may take)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn, Optional

from dldoctor import __version__

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

PROG = "dldoctor"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # as a shell reports a Ctrl-C (128 + SIGINT)


class Exit(SystemExit):
    """Leave with this exit code: a command's result, or the end after a one-line error."""


class Param:
    """One parameter's declaration (see ``Option`` and ``Argument``)."""

    def __init__(
        self,
        default: Any,
        names: tuple[str, ...],
        help: str,
        minimum: Optional[float] = None,
        maximum: Optional[float] = None,
        metavar: Optional[str] = None,
    ) -> None:
        self.default, self.names, self.help = default, names, help
        self.minimum, self.maximum, self.metavar = minimum, maximum, metavar


def Option(  # named as a class: read as a declaration, as typer's is
    default: Any,
    *names: str,
    help: str = "",
    min: Optional[float] = None,
    max: Optional[float] = None,
    metavar: Optional[str] = None,
) -> Any:
    """An option: its default, its flags (``"--format", "-f"``), its help; ``min``/``max``
    bound a number. A bool is a flag; a list is repeatable."""
    return Param(default, names, help, min, max, metavar)


def Argument(default: Any = ..., *, help: str = "", metavar: Optional[str] = None) -> Any:
    """A positional argument: required when ``default`` is ``...``; a list takes one or more
    (with ``App.command(rest=True)``: every word left, options included, passed on)."""
    return Param(default, (), help, metavar=metavar)


def echo(message: str = "", err: bool = False, nl: bool = True) -> None:
    """One message on stdout (or stderr), flushed so that the two streams keep their order."""
    stream = sys.stderr if err else sys.stdout
    stream.write(message + ("\n" if nl else ""))
    stream.flush()


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal; no unless the answer is yes (EOF: no)."""
    while True:
        try:
            answer = input(f"{question} [y/N]: ").strip().lower()
        except EOFError:
            return False
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        echo("Error: invalid input", err=True)


def usage_error(message: str, command: str = "") -> NoReturn:
    """The one line a usage error gets (outside text cleaned), and exit code 2."""
    from dldoctor.report.clean import clean

    where = f"{PROG} {command}".strip()
    echo(f"{PROG}: error: {clean(message)} (see `{where} --help`)", err=True)
    raise Exit(EXIT_USAGE)


class App:
    """The commands, registered by their modules; called with the arguments, it runs one."""

    def __init__(self, help: str, epilog: str) -> None:
        self.help, self.epilog = help, epilog
        self.commands: dict[str, Callable[..., None]] = {}
        self._rest: set[str] = set()

    def command(
        self, name: Optional[str] = None, rest: bool = False
    ) -> Callable[[Callable[..., None]], Callable[..., None]]:
        """Register a command (its name: the function's, or ``name``); ``rest``: its last
        argument takes every word after the first positional one, as the script's own."""

        def register(func: Callable[..., None]) -> Callable[..., None]:
            key = name or func.__name__
            if key in self.commands:
                raise ValueError(f"command {key!r} registered twice")
            self.commands[key] = func
            if rest:
                self._rest.add(key)
            return func

        return register

    def __call__(self, args: Optional[Sequence[str]] = None) -> NoReturn:
        """Parse ``args`` (default: the process's) and run the command; always exits."""
        words = list(sys.argv[1:] if args is None else args)
        if not words:
            echo(self.help_text(), err=True, nl=False)
            raise Exit(EXIT_USAGE)
        first = words[0]
        if first in ("-h", "--help"):
            echo(self.help_text(), nl=False)
            raise Exit(0)
        if first == "--version":
            echo(f"{PROG} {__version__}")
            raise Exit(0)
        if first.startswith("-"):
            usage_error(f"no such option: {first}")
        func = self.commands.get(first)
        if func is None:
            from difflib import get_close_matches

            near = get_close_matches(first, self.commands, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            usage_error(f"no such command {first!r}{hint}")
        kwargs = parse(first, func, words[1:], first in self._rest)
        try:
            func(**kwargs)
        except KeyboardInterrupt:  # Ctrl-C where the command has nothing to save: no traceback
            echo(f"{PROG}: interrupted", err=True)
            raise Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:  # a reader that stopped early, outside `reader_may_stop`
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # python's own last flush must not fail
            os.close(devnull)
            raise Exit(1) from None
        raise Exit(0)

    def help_text(self) -> str:
        import shutil
        import textwrap

        width = max(40, min(shutil.get_terminal_size().columns, 100) - 2)
        column = max(len(n) for n in self.commands) + 4
        lines = [f"usage: {PROG} [--version] [-h] COMMAND [ARGS]...", "", self.help, ""]
        lines.append("Commands:")
        for name, func in self.commands.items():
            summary = first_paragraph(func.__doc__ or "")
            wrapped = textwrap.wrap(summary, width - column) or [""]
            lines.append(f"  {name:<{column - 2}}{wrapped[0]}")
            lines += [" " * column + more for more in wrapped[1:]]
        lines += ["", "Options:", "  --version   Print the version."]
        lines += [
            "  -h, --help  Show this message and exit.",
            "",
            *textwrap.wrap(self.epilog, width),
        ]
        return "\n".join(lines) + "\n"


def first_paragraph(doc: str) -> str:
    """A docstring's first paragraph as one line, as the command list shows it."""
    return " ".join(doc.strip().split("\n\n")[0].replace("`", "").split())


def parse(name: str, func: Callable[..., None], words: list[str], rest: bool) -> dict[str, Any]:
    """The keyword arguments of ``func`` from ``words``; a usage error exits with one line."""
    from dldoctor.cli.parser import UsageError, build

    parser, convert = build(PROG, name, func, rest)
    try:
        # Without ``rest``, options may follow the positional arguments (`install torch --dry-run
        # jax`); with it, every word after the first positional one is the script's.
        parsed = parser.parse_args(words) if rest else parser.parse_intermixed_args(words)
        return convert(parsed)
    except UsageError as exc:
        usage_error(str(exc), name)


app = App(
    help="A doctor for deep-learning machines: frameworks, NVIDIA driver, CUDA and GPUs, judged.",
    epilog="Run `dldoctor check` right after setting up a machine; "
    "`dldoctor COMMAND --help` shows a command's options.",
)
