"""What is withheld from every output, redacted or not: secrets by their name and by their shape.

By name: a variable or option called *TOKEN*, *KEY*, *PASSWORD*… loses its whole value. By
shape: credentials inside a URL (`postgres://user:pass@host/db`, a proxy's `user:pass@`) and the
token formats that services issue with a fixed prefix lose the secret part wherever they appear,
whatever carries them (an allowed variable such as HTTPS_PROXY, a script argument, an exception
message). The host, the scheme and the token's prefix stay: they say what was there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

WITHHELD = "<withheld>"

# TF_CPP_MIN_LOG_LEVEL is fine; NCCL_IB_... fine; anything carrying a credential is not.
_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|(^|_)KEY($|_)|PRIVATE|COOKIE|SESSION"
)

# scheme://userinfo@host: the userinfo runs to the authority's last '@' (a password may hold a
# raw '@'). Withheld when it has a password (user:pass) or is one long token (https://TOKEN@host);
# a plain user name (ssh://git@github.com) is kept.
_URL_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^\s/?#]*)@")
_TOKEN_AS_USER = re.compile(r"[A-Za-z0-9_\-.~%]{20,}")

# Tokens with a published fixed prefix: (prefix, what follows it).
_TOKEN_SHAPES = (
    # https://huggingface.co/docs/hub/security-tokens ("hf_…")
    ("hf_", r"[A-Za-z0-9]{30,}"),
    # https://github.blog/changelog/2021-03-31-authentication-token-format-updates-are-generally-available
    ("gh[pousr]_", r"[A-Za-z0-9]{36,}"),
    ("github_pat_", r"[A-Za-z0-9_]{22,}"),
    # OpenAI and Anthropic API keys ("sk-…", "sk-proj-…", "sk-ant-…")
    ("sk-", r"[A-Za-z0-9_-]{20,}"),
    # GitLab personal access tokens
    ("glpat-", r"[A-Za-z0-9_-]{20,}"),
    # Slack bot, user and app tokens
    ("xox[abposr]-", r"[A-Za-z0-9-]{10,}"),
    # PyPI API tokens (a macaroon after "pypi-")
    ("pypi-", r"[A-Za-z0-9_-]{50,}"),
    # https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html:
    # access key IDs, long-term AKIA…, temporary ASIA…
    ("AKIA|ASIA", r"[0-9A-Z]{16}(?![0-9A-Za-z])"),
    # Google API keys
    ("AIza", r"[0-9A-Za-z_-]{35}"),
    # JSON Web Tokens: three base64url parts, the first two JSON objects ("eyJ" is '{"')
    ("eyJ", r"[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
)
_TOKENS = re.compile(
    r"(?<![A-Za-z0-9])(?:" + "|".join(f"({prefix}){body}" for prefix, body in _TOKEN_SHAPES) + ")"
)
# Cheap pre-test: text holding none of these cannot match either pattern.
_MAYBE = re.compile(r"://|hf_|gh[pousr]_|github_pat_|sk-|glpat-|xox|pypi-|AKIA|ASIA|AIza|eyJ")


def looks_secret(name: str) -> bool:
    """Whether a variable's or option's name suggests its value is a credential."""
    return bool(_SECRET_NAME.search(name.upper()))


def _userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    if ":" in userinfo or _TOKEN_AS_USER.fullmatch(userinfo):
        return f"{scheme}{WITHHELD}@"
    return match.group(0)


def _token(match: re.Match[str]) -> str:
    prefix = next(group for group in match.groups() if group is not None)
    return prefix + WITHHELD


def withhold(text: str) -> str:
    """The text with URL credentials and known token shapes replaced by <withheld>."""
    if not _MAYBE.search(text):
        return text
    return _TOKENS.sub(_token, _URL_USERINFO.sub(_userinfo, text))


def withhold_all(value: Any) -> Any:
    """A JSON-shaped value with `withhold` applied to every string, keys and values alike."""
    if isinstance(value, str):
        return withhold(value)
    if isinstance(value, list):
        return [withhold_all(v) for v in value]
    if isinstance(value, dict):
        return {withhold(k) if isinstance(k, str) else k: withhold_all(v) for k, v in value.items()}
    return value


def safe_args(args: Iterable[str]) -> list[str]:
    """Command-line arguments as they may be shown: secret-named options lose their values
    (`--api-key X`, `--hf_token=X`, `db.password=X`) and every argument loses URL credentials
    and token shapes (`--db-url postgres://u:p@h/db`)."""
    out: list[str] = []
    withhold_next = False
    for arg in args:
        if withhold_next and not arg.startswith("-"):
            out.append(WITHHELD)
            withhold_next = False
            continue
        withhold_next = False
        if arg.startswith("-"):
            name, eq, _ = arg.lstrip("-").partition("=")
            if looks_secret(name.replace("-", "_")):
                if eq:
                    arg = arg[: arg.index("=") + 1] + WITHHELD
                else:
                    withhold_next = True
        else:  # key=value overrides (Hydra, OmegaConf): wandb.api_key=X
            key, eq, _ = arg.partition("=")
            if eq and key and " " not in key and looks_secret(key.rsplit(".", 1)[-1]):
                arg = f"{key}={WITHHELD}"
        out.append(withhold(arg))
    return out
