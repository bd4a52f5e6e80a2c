"""Redaction on request, that says what it did: private values become stable placeholders.

Kinds (KINDS): the user name, other users' names in home paths, the host name (and EC2-style
"ip-10-0-0-5" names), the home directory (as "~", so paths stay useful: "~/venv/lib/python3.11"),
IP and MAC addresses, GPU and MIG UUIDs, serial numbers, cloud instance ids and container ids.
One value always gets the same placeholder within a document ("<ip-1>" twice is one address),
so a reader can still tell two GPUs apart. Secrets are not this module's: they are withheld
from everything written, redacted or not (dldoctor/facts/withhold.py).
"""

from __future__ import annotations

import getpass
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

KINDS = {  # kind: (one, several)
    "home": ("home directory", "home directories"),
    "user": ("user name", "user names"),
    "host": ("host name", "host names"),
    "ip": ("IP address", "IP addresses"),
    "mac": ("MAC address", "MAC addresses"),
    "gpu-uuid": ("GPU UUID", "GPU UUIDs"),
    "serial": ("serial number", "serial numbers"),
    "instance": ("cloud instance id", "cloud instance ids"),
    "container": ("container id", "container ids"),
}
_UUID = r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
_GPU_UUID = re.compile(rf"\b(GPU|MIG)-({_UUID})\b")
_MAC = re.compile(r"(?<![0-9A-Fa-f:])((?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})(?![0-9A-Fa-f:])")
# An IPv4 address only where an address goes: "12.1.3.1" is also a wheel's version, so a dotted
# quad counts only after "@", "//", "<", "(", "[", an environment variable's "NAME=" (a facts
# variable's value is read so; in JSON text, "NAME":"), or a word that names an address.
_IP = re.compile(
    r"(?P<pre>@|//|[<(\[]|\b[A-Z][A-Z0-9_]{1,40}=|\"[A-Z][A-Z0-9_]{1,40}\": ?\"|addr:"
    r"|\b(?:inet|addr|address|host|from|to|IP|ip|peer|server|node) )"
    r"(?P<ip>(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})"
    r"(?=$|[:/>)\]<,;\s'\"])"
)
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,40}$")
_EC2_HOST = re.compile(r"\bip-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}(?:\.[\w.-]+\.internal)?\b")
_INSTANCE = re.compile(r"\bi-(?:[0-9a-f]{17}|[0-9a-f]{8})\b")
_CONTAINER = re.compile(r"\b[0-9a-f]{64}\b")
_SERIAL = re.compile(r"(Serial(?: Number)?\s*[:=]\s*|\"serial\":\s*\")([0-9A-Za-z-]{6,40})")
_HOMES = re.compile(r"(/home/|/Users/|[A-Za-z]:\\\\?Users\\\\?)([^/\\\s'\":]+)")
_NOT_USERS = {"<user>", "shared", "Public", "Shared", "Default", "runner", "linuxbrew"}


@dataclass
class Redactor:
    """Replaces private values in strings; remembers each value's placeholder and counts."""

    home: str
    user: str
    host: str
    counts: Counter[str] = field(default_factory=Counter)
    _seen: dict[tuple[str, str], str] = field(default_factory=dict)

    def placeholder(self, kind: str, value: str, fixed: str | None = None) -> str:
        """The value's placeholder, the same each time; ``counts`` counts distinct values."""
        key = (kind, value)
        if key not in self._seen:
            number = sum(1 for k, _ in self._seen if k == kind) + 1
            self._seen[key] = fixed or f"<{kind}-{number}>"
            self.counts[kind] += 1
        return self._seen[key]

    def _sub(self, pattern: re.Pattern[str], text: str, fn: Callable[[re.Match[str]], str]) -> str:
        return pattern.sub(fn, text)

    def scrub(self, text: str) -> str:
        if self.home and self.home not in ("/", "") and self.home in text:
            text = text.replace(self.home, self.placeholder("home", self.home, "~"))
        text = self._sub(_HOMES, text, self._home_of_another)
        text = self._sub(
            _GPU_UUID, text, lambda m: f"{m.group(1)}-{self.placeholder('gpu-uuid', m.group(2))}"
        )
        text = self._sub(_MAC, text, self._mac)
        text = self._sub(_EC2_HOST, text, lambda m: self.placeholder("host", m.group(0)))
        text = self._sub(
            _IP, text, lambda m: m.group("pre") + self.placeholder("ip", m.group("ip"))
        )
        text = self._sub(_INSTANCE, text, lambda m: self.placeholder("instance", m.group(0)))
        text = self._sub(_CONTAINER, text, lambda m: self.placeholder("container", m.group(0)))
        text = self._sub(
            _SERIAL, text, lambda m: m.group(1) + self.placeholder("serial", m.group(2))
        )
        if self.host and len(self.host) > 2 and self.host in text:
            text = text.replace(self.host, self.placeholder("host", self.host, "<host>"))
        if self.user and len(self.user) > 2 and self.user != "root":
            text, count = re.subn(
                rf"(?<![A-Za-z0-9]){re.escape(self.user)}(?![A-Za-z0-9])", "<user>", text
            )
            if count:
                self.placeholder("user", self.user, "<user>")
        return text

    def _mac(self, match: re.Match[str]) -> str:
        mac = match.group(1)
        if mac.lower() in ("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"):  # broadcast, none: no one's
            return mac
        return self.placeholder("mac", mac)

    def _home_of_another(self, match: re.Match[str]) -> str:
        name = match.group(2)
        if name in _NOT_USERS or name.startswith("<"):
            return match.group(0)
        if name == self.user:
            return match.group(1) + self.placeholder("user", name, "<user>")
        return match.group(1) + self.placeholder("user", name)

    def walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        if isinstance(value, dict):
            return {
                self.scrub(k) if isinstance(k, str) else k: self._item(k, v)
                for k, v in value.items()
            }
        return value

    def _item(self, key: Any, value: Any) -> Any:
        """An environment variable's value is scrubbed as "NAME=value", where an address goes."""
        if isinstance(key, str) and isinstance(value, str) and _ENV_NAME.match(key):
            return self.scrub(f"{key}={value}").partition("=")[2]
        return self.walk(value)

    def summary(self) -> str:
        """How many distinct values of each kind: "redacted 1 home directory, 2 IP addresses"."""
        parts = [
            f"{self.counts[kind]} {one if self.counts[kind] == 1 else several}"
            for kind, (one, several) in KINDS.items()
            if self.counts[kind]
        ]
        return (
            "redacted " + ", ".join(parts) if parts else "redacted nothing (no private value found)"
        )


def _identity() -> tuple[str, str, str]:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = ""
    return str(Path.home()), user, socket.gethostname()


def redactor(home: str | None = None, user: str | None = None, host: str | None = None) -> Redactor:
    home_, user_, host_ = _identity()
    return Redactor(
        home=home or home_, user=user if user is not None else user_, host=host or host_
    )


def redact(
    document: Any, home: str | None = None, user: str | None = None, host: str | None = None
) -> Any:
    """A copy of a JSON-shaped document with private strings replaced, keys and values alike."""
    return redactor(home, user, host).walk(document)
