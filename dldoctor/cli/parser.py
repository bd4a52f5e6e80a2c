"""One command's argparse parser, derived from its function's signature (the declaration), and
the help it prints: the docstring's paragraphs reflowed to the terminal, each option's help."""

from __future__ import annotations

import argparse
import enum
import inspect
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dldoctor.cli.app import Param

if TYPE_CHECKING:
    from collections.abc import Callable

# How a value type reads in the help (`--json PATH`); anything else: TEXT.
_METAVARS = {Path: "PATH", float: "NUMBER", int: "INTEGER"}
_UNSET = object()  # an option the words did not give: argparse leaves it out (SUPPRESS)


class UsageError(Exception):
    """What argparse (or a bound) refused, to be said in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print the usage and exit itself
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            from difflib import get_close_matches

            word = message[len(prefix) :].split()[0].split("=")[0]
            known = [s for a in self._actions for s in a.option_strings]
            near = get_close_matches(word, known, n=1) if word.startswith("-") else []
            message = (f"no such option: {word}" if word.startswith("-") else message) + (
                f"; did you mean {near[0]}?" if near else ""
            )
        raise UsageError(message)


class _Formatter(argparse.HelpFormatter):
    """The description's paragraphs reflowed one by one (argparse joins them into one), and
    an option's value named once: ``-f, --format {terminal,json,markdown}``."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        names = ", ".join(sorted(action.option_strings, key=len))
        if not action.option_strings or action.nargs == 0:
            return names or super()._format_action_invocation(action)
        return f"{names} {self._format_args(action, action.dest.upper())}"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        paragraphs = [" ".join(p.replace("`", "").split()) for p in text.split("\n\n")]
        return "\n\n".join(
            textwrap.fill(p, width, initial_indent=indent, subsequent_indent=indent)
            for p in paragraphs
            if p
        )


def build(
    prog: str, name: str, func: Callable[..., None], rest: bool
) -> tuple[argparse.ArgumentParser, Callable[[argparse.Namespace], dict[str, Any]]]:
    """``func``'s parser, and what turns its result into ``func``'s keyword arguments.

    ``rest``: the last argument (a list) takes every word after the first positional one.
    """
    hints = typing.get_type_hints(func)
    params = [(p.name, p.default) for p in inspect.signature(func).parameters.values()]
    positionals = [n for n, d in params if isinstance(d, Param) and not d.names]
    words = " ".join(_shown(n, dict(params)[n], hints[n]) for n in positionals)
    parser = _Parser(
        prog=f"{prog} {name}",
        usage=f"{prog} {name} [OPTIONS]{' ' + words if words else ''}",
        description=inspect.getdoc(func),
        formatter_class=_Formatter,
        add_help=False,
        allow_abbrev=False,  # an abbreviation would change meaning when an option is added
    )
    parser.add_argument("-h", "--help", action="help", help="Show this message and exit.")
    kinds: dict[str, tuple[type, Param]] = {}
    for param, declared in params:
        if not isinstance(declared, Param):
            raise TypeError(f"{name}: parameter {param!r} is not declared with Option or Argument")
        kind, many = _kind(hints[param])
        kinds[param] = (kind, declared)
        last = rest and param == positionals[-1]
        _add(parser, param, declared, kind, many, last)

    def convert(namespace: argparse.Namespace) -> dict[str, Any]:
        values = {}
        for param, (kind, declared) in kinds.items():
            value = getattr(namespace, param, _UNSET)
            if value is _UNSET:
                value = declared.default
            elif issubclass(kind, enum.Enum) and isinstance(value, str):
                value = kind(value)
            values[param] = value
        return values

    return parser, convert


def _kind(hint: Any) -> tuple[type, bool]:
    """The value type of an annotation, and whether it is a list: ``Optional[list[str]]``."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union and len(args) == 1:
        hint = args[0]
    if typing.get_origin(hint) is list:
        return typing.get_args(hint)[0], True
    return hint, False


def _add(
    parser: argparse.ArgumentParser, param: str, d: Param, kind: type, many: bool, rest: bool
) -> None:
    shown_default = d.default not in (None, False, ..., ()) and not many
    default_text = d.default.value if isinstance(d.default, enum.Enum) else d.default
    help_text = d.help + (f" (default: {default_text})" if shown_default else "")
    help_text = help_text.replace("%", "%%")  # argparse %-formats the help (for %(default)s)
    if not d.names:  # positional
        if rest:
            nargs: Any = argparse.REMAINDER
        elif many:
            nargs = "+" if d.default is ... else "*"
        else:
            nargs = None if d.default is ... else "?"
        metavar = d.metavar or param
        default = None if d.default is ... else d.default
        converter = _value(kind, d)
        action = parser.add_argument(
            param, nargs=nargs, type=converter, metavar=metavar, default=default, help=help_text
        )
        action.required = nargs not in ("?", "*", argparse.REMAINDER)  # argparse: REMAINDER too
        return
    # An option not given is left out (SUPPRESS): its declared default is filled in after, as
    # declared (argparse would convert a default that is a string, an enum member's included).
    if kind is bool:
        if d.default is not False:  # a flag can only turn something on
            raise TypeError(f"{d.names[0]}: a flag's default must be False")
        parser.add_argument(
            *d.names, dest=param, action="store_true", default=argparse.SUPPRESS, help=help_text
        )
        return
    choices = [m.value for m in kind] if issubclass(kind, enum.Enum) else None
    parser.add_argument(
        *d.names,
        dest=param,
        action="append" if many else "store",
        type=str if choices else _value(kind, d),
        choices=choices,
        metavar=d.metavar or (None if choices else _METAVARS.get(kind, "TEXT")),
        default=argparse.SUPPRESS,
        help=help_text,
    )


def _shown(param: str, declared: Param, hint: Any) -> str:
    """A positional argument as the usage line shows it: SCRIPT, [section], frameworks..."""
    word = declared.metavar or param
    if _kind(hint)[1] and not word.endswith("..."):
        word += "..."
    return word if declared.default is ... or word.startswith("[") else f"[{word}]"


def _value(kind: type, d: Param) -> Callable[[str], Any]:
    """The converter of one word to ``kind``, with the declared bounds; its errors read plainly."""
    if kind is str:
        return str
    if kind not in (int, float):
        return kind  # Path
    noun = "a whole number" if kind is int else "a number"

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if value != value:  # NaN
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}")
        if (d.minimum is not None and value < d.minimum) or (
            d.maximum is not None and value > d.maximum
        ):
            low = "" if d.minimum is None else f"at least {d.minimum:g}"
            high = "" if d.maximum is None else f"at most {d.maximum:g}"
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: it must be {' and '.join(x for x in (low, high) if x)}"
            )
        return value

    convert.__name__ = kind.__name__
    return convert
