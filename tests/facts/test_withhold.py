"""Secrets by shape: URL credentials and token formats are withheld wherever they appear."""

from __future__ import annotations

import pytest

from dldoctor.facts.env_vars import gather_env
from dldoctor.facts.withhold import safe_args, withhold, withhold_all

# Made-up tokens of each published shape (none is real).
HF = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3"
GHP = "ghp_" + "A1bC2dE3fH4iJ5kL6mN7oP8qR9sT0uVwXyZ1"
GH_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
SK = "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90Kl12"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgres://u:pass@h/db", "postgres://<withheld>@h/db"),
        ("http://alice:s3cret@proxy.corp:3128", "http://<withheld>@proxy.corp:3128"),
        ("https://u:p@ss@host/x", "https://<withheld>@host/x"),  # a raw '@' in the password
        ("https://user:@host/", "https://<withheld>@host/"),
        ("https://" + "x" * 24 + "@github.com/o/r.git", "https://<withheld>@github.com/o/r.git"),
        (
            "export URL=redis://:pw@cache:6379/0 now",
            "export URL=redis://<withheld>@cache:6379/0 now",
        ),
        ("two: a://u:1@h and b://v:2@k", "two: a://<withheld>@h and b://<withheld>@k"),
    ],
)
def test_url_credentials_are_withheld_and_the_host_kept(text: str, shown: str) -> None:
    assert withhold(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "ssh://git@github.com/org/repo.git",  # a user name, no password: not a secret
        "https://download.pytorch.org/whl/cu130",
        "mailto: someone@example.org",
        "/home/alice/.cache/torch",
        "scikit-learn",
        "sk-learn",  # too short for a key
        "a3f9c2e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2",  # a git SHA: no prefix, not withheld
        "hf_transfer",
        "AKIA",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert withhold(text) == text


@pytest.mark.parametrize(
    ("token", "prefix"),
    [(HF, "hf_"), (GHP, "ghp_"), (GH_PAT, "github_pat_"), (SK, "sk-"), (AWS, "AKIA"), (JWT, "eyJ")],
)
def test_token_shapes_keep_only_their_prefix(token: str, prefix: str) -> None:
    assert withhold(f"token is {token}.") == f"token is {prefix}<withheld>."
    assert withhold(f"--hub={token}") == f"--hub={prefix}<withheld>"


def test_a_document_is_withheld_in_keys_and_values() -> None:
    document = {"a": [f"x {HF}", {"postgres://u:pw@h/db": 1}], "n": 3, "b": None}
    assert withhold_all(document) == {
        "a": ["x hf_<withheld>", {"postgres://<withheld>@h/db": 1}],
        "n": 3,
        "b": None,
    }


@pytest.mark.parametrize(
    "name",
    ["TORCH_HUB_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "https_proxy", "PIP_INDEX_URL"],
)
def test_an_allowed_variable_keeps_its_host_not_its_credentials(name: str) -> None:
    facts = gather_env({name: "http://bob:hunter2@proxy.corp:3128"})
    assert facts["variables"] == {name: "http://<withheld>@proxy.corp:3128"}
    assert "hunter2" not in str(facts)


def test_extra_index_and_token_shaped_values_are_withheld() -> None:
    env = {
        "PIP_EXTRA_INDEX_URL": "https://__token__:pypi-abc@pypi.example/simple",
        "TF_SOMETHING": HF,
        "NCCL_DEBUG": "INFO",
    }
    facts = gather_env(env)
    assert facts["variables"] == {
        "NCCL_DEBUG": "INFO",
        "PIP_EXTRA_INDEX_URL": "https://<withheld>@pypi.example/simple",
        "TF_SOMETHING": "hf_<withheld>",
    }


def test_script_arguments_lose_secrets_by_name_and_by_shape() -> None:
    args = [
        "--db-url", "postgres://u:pass@h/db",
        "--password", "x1",
        "--token=x2",
        "--api-key", "x3",
        "db.password=x4",
        "wandb.api_key=x5",
        HF,
        "--lr", "0.1",
        "epochs=3",
    ]  # fmt: skip
    assert safe_args(args) == [
        "--db-url", "postgres://<withheld>@h/db",
        "--password", "<withheld>",
        "--token=<withheld>",
        "--api-key", "<withheld>",
        "db.password=<withheld>",
        "wandb.api_key=<withheld>",
        "hf_<withheld>",
        "--lr", "0.1",
        "epochs=3",
    ]  # fmt: skip
