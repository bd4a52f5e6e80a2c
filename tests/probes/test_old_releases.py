"""Probes detect an API before calling it: on a release without it a test is skipped as "not
tested on this release", never reported as a failed computation.

The real torch and paddle of this environment run the real smoke tests; an older release is the
same module seen through a proxy that hides the APIs it did not have yet (the module object is
the boundary: nothing else is faked)."""

from __future__ import annotations

import json
import os
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from dldoctor.probes.child import harness, paddle_probe, torch_probe


class Older:
    """A framework module as an older release had it: ``hidden`` names ("compile",
    "cuda.mem_get_info") are missing, ``shaped`` ones have that release's signature; everything
    else is the real module's."""

    def __init__(
        self, module: Any, hidden: set[str], shaped: dict[str, Any] | None = None, prefix: str = ""
    ) -> None:
        self._module, self._hidden, self._prefix = module, hidden, prefix
        self._shaped = shaped or {}

    def __getattr__(self, name: str) -> Any:
        dotted = self._prefix + name
        if dotted in self._hidden:
            raise AttributeError(f"module has no attribute {name!r}")
        if dotted in self._shaped:
            return self._shaped[dotted]
        value = getattr(self._module, name)
        if any(h.startswith(dotted + ".") for h in (*self._hidden, *self._shaped)):
            return Older(value, self._hidden, self._shaped, dotted + ".")
        return value


@pytest.fixture
def ctx(tmp_path):
    """The real harness context, talking over a real pipe; ``ctx.sent()`` reads what it said."""
    read_fd, write_fd = os.pipe()
    context = harness.Context(harness.Channel(write_fd), "torch", {}, str(tmp_path))

    def sent() -> list[dict[str, Any]]:
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            return [json.loads(line) for line in pipe.read().splitlines()]

    context.sent = sent  # type: ignore[attr-defined]
    yield context


def _smokes(ctx) -> list[dict[str, Any]]:
    return [m for m in ctx.sent() if m["type"] == "smoke"]


torch = pytest.importorskip("torch")
OLD_TORCH = Older(
    torch,
    {"compile", "export", "autocast", "cuda.is_bf16_supported", "cuda.mem_get_info"},
)


def test_tests_of_apis_an_older_torch_lacks_are_not_tested_not_failed(ctx):
    ctx.smoke("compile", "cpu", lambda: torch_probe._compile(ctx, OLD_TORCH, "cpu"))
    ctx.smoke("export", "cpu", lambda: torch_probe._export(ctx, OLD_TORCH, "cpu"))
    ctx.smoke("mixed-precision", "cpu", lambda: torch_probe._mixed(ctx, OLD_TORCH, "cpu"))
    ctx.smoke("memory", "cuda:0", lambda: torch_probe._memory(ctx, OLD_TORCH, "cuda:0"))
    ctx.smoke("autograd", "cpu", lambda: torch_probe._autograd(ctx, OLD_TORCH, "cpu"))
    results = {s["test"]: s for s in _smokes(ctx)}
    assert results["autograd"]["status"] == "pass"  # what the release has is still tested
    for test, api in (
        ("compile", "compile"),
        ("export", "export.export"),
        ("mixed-precision", "autocast"),
        ("memory", "cuda.mem_get_info"),
    ):
        assert results[test]["status"] == "skip", results[test]
        assert results[test]["detail"] == (
            f"torch {torch.__version__} has no torch.{api}: not tested on this release"
        )


def test_the_same_tests_run_where_the_release_has_the_api(ctx):
    ctx.smoke("mixed-precision", "cpu", lambda: torch_probe._mixed(ctx, torch, "cpu"))
    ctx.smoke("export", "cpu", lambda: torch_probe._export(ctx, torch, "cpu"))
    assert [s["status"] for s in _smokes(ctx)] == ["pass", "pass"]


def test_bfloat16_is_left_out_where_torch_cannot_say_if_the_gpu_has_it():
    asked = []
    cuda = SimpleNamespace(is_bf16_supported=lambda: asked.append(1) or True)
    with_api = SimpleNamespace(cuda=cuda)
    assert torch_probe._dtypes(with_api, "cuda:0") == ["float32", "float16", "bfloat16"]
    assert torch_probe._dtypes(OLD_TORCH, "cuda:0") == ["float32", "float16"]
    assert torch_probe._dtypes(with_api, "cpu") == ["float32", "float16"]
    assert asked == [1]


def test_the_matmul_check_needs_no_torch_linalg(ctx):
    older = Older(torch, {"linalg"})
    ctx.smoke("matmul", "cpu", lambda: torch_probe._matmul(ctx, older, "cpu"))
    (result,) = _smokes(ctx)
    assert result["status"] == "pass", result


def test_facts_an_older_torch_cannot_give_are_unknown_not_errors(ctx):
    older = Older(torch, {"cuda.get_arch_list", "cuda.is_bf16_supported"})
    devices = torch_probe._gather(ctx, older)
    facts = [m for m in ctx.sent() if m["type"] == "info"]
    keys = {m["key"] for m in facts}
    assert "arch_list" not in keys  # not asked: unknown
    assert not [m for m in facts if m.get("error")], facts
    assert "num_threads" in keys  # gathering went on past the missing API
    assert devices == [] or all(isinstance(d, str) for d in devices)


@pytest.fixture
def paddle(monkeypatch):
    """paddle, imported here: its import adds setuptools' vendored packages to sys.path and sets
    environment variables, which would show later tests' gatherers duplicate distributions."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved = dict(os.environ)
    yield pytest.importorskip("paddle")
    os.environ.clear()
    os.environ.update(saved)


def test_paddle_detects_keywords_its_release_lacks(ctx, paddle):
    def to_static(function, input_spec=None):  # Paddle 2.5's signature: no full_graph
        return paddle.jit.to_static(function)

    def auto_cast(enable=True, custom_white_list=None, custom_black_list=None, level="O1"):
        raise AssertionError("called without detection")

    older = Older(paddle, set(), {"jit.to_static": to_static, "amp.auto_cast": auto_cast})
    ctx.smoke("graph", "cpu", lambda: paddle_probe._graph(ctx, older))
    ctx.smoke("mixed-precision", "cpu", lambda: paddle_probe._mixed(ctx, older))
    graph, mixed = _smokes(ctx)
    assert graph["status"] == "pass", graph
    assert mixed["status"] == "skip"
    assert mixed["detail"].endswith("has no auto_cast(dtype=...): not tested on this release")
