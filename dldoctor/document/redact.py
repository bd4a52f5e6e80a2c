"""Redaction on request: home directories, the user name, the host name and GPU UUIDs."""

from __future__ import annotations

import getpass
import re
import socket
from pathlib import Path
from typing import Any

_GPU_UUID = re.compile(r"\b(GPU|MIG)-[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")


def _identity() -> tuple[str, str, str]:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = ""
    return str(Path.home()), user, socket.gethostname()


def redact(
    document: Any, home: str | None = None, user: str | None = None, host: str | None = None
) -> Any:
    """A copy of a JSON-shaped document with private strings replaced, keys and values alike."""
    if home is None or user is None or host is None:
        home_, user_, host_ = _identity()
        home, user, host = home or home_, user if user is not None else user_, host or host_

    def scrub(text: str) -> str:
        if home and home not in ("/", "") and home in text:
            text = text.replace(home, "~")
        text = _GPU_UUID.sub(lambda m: f"{m.group(1)}-<redacted>", text)
        if host and len(host) > 2:
            text = text.replace(host, "<host>")
        if user and len(user) > 2 and user != "root":
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(user)}(?![A-Za-z0-9])", "<user>", text)
        return text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return scrub(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {scrub(k) if isinstance(k, str) else k: walk(v) for k, v in value.items()}
        return value

    return walk(document)
