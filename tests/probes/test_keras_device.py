"""Keras' smoke tests are labelled with the device its backend put their tensors on, named as
that backend's own probe names it. A GPU cannot be had here: the tensors are stand-ins."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from dldoctor.probes.child import keras_probe


def keras_on(backend: str, tensor: Any) -> Any:
    ops = SimpleNamespace(zeros=lambda shape: tensor)
    return SimpleNamespace(ops=ops, backend=SimpleNamespace(backend=lambda: backend))


def jax_array(platform: str, index: int) -> Any:
    device = SimpleNamespace(platform=platform, id=index)
    return SimpleNamespace(devices=lambda: [device])  # a set in jax; one device either way


@pytest.mark.parametrize(
    ("backend", "tensor", "label"),
    [
        ("tensorflow", SimpleNamespace(device="/job:localhost/replica:0/task:0/device:CPU:0"), "cpu"),
        ("tensorflow", SimpleNamespace(device="/job:localhost/replica:0/task:0/device:GPU:0"), "gpu:0"),
        ("tensorflow", SimpleNamespace(device="/job:localhost/replica:0/task:0/device:GPU:3"), "gpu:3"),
        ("jax", jax_array("cpu", 0), "cpu"),
        ("jax", jax_array("gpu", 1), "gpu:1"),
        ("torch", SimpleNamespace(device="cuda:0"), "cuda:0"),
        ("torch", SimpleNamespace(device="cpu"), "cpu"),
        ("openvino", SimpleNamespace(device="CPU"), "default"),
    ],
)  # fmt: skip
def test_the_default_device_is_named_as_its_backend_names_it(backend, tensor, label):
    assert keras_probe._default_device(keras_on(backend, tensor)) == label


class Context:
    def __init__(self) -> None:
        self.devices: list[dict[str, Any]] = []
        self.smoked: list[tuple[str, str]] = []

    def import_module(self, name: str) -> Any:
        return self.keras

    def facts_phase(self, run: Any) -> None:
        run()

    def fact(self, key: str, get: Any) -> None:
        pass

    def device(self, **fields: Any) -> None:
        self.devices.append(fields)

    def smoke(self, test: str, device: str, run: Any) -> None:
        self.smoked.append((test, device))


def test_a_backend_that_cannot_say_leaves_the_tests_on_its_default():
    ctx = Context()
    ctx.keras = keras_on("tensorflow", SimpleNamespace())  # no .device: raises inside
    keras_probe.probe(ctx)
    assert ctx.devices == [{"id": "default", "kind": "backend default"}]
    assert ctx.smoked == [("layer", "default"), ("train", "default")]
    ctx = Context()
    ctx.keras = keras_on("jax", jax_array("gpu", 0))
    keras_probe.probe(ctx)
    assert ctx.devices == [{"id": "gpu:0", "kind": "backend default"}]
    assert ctx.smoked == [("layer", "gpu:0"), ("train", "gpu:0")]
