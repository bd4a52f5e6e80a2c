"""extensions.toml is validated when loaded: a broken row is named, not guessed around."""

from __future__ import annotations

import pytest

from dldoctor.matrix import MatrixError, load
from tests.matrix.test_matrix import copy_matrix


def _broken(tmp_path, old: str, new: str):
    root = copy_matrix(tmp_path)
    path = root / "extensions.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    load.cache_clear()
    try:
        return load(root)
    finally:
        load.cache_clear()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('ops = "jit"', 'ops = "sometimes"', r"deepspeed\): ops must be"),
        ('rebuild = "pip"', 'rebuild = "conda"', r"flash-attn\): rebuild must be"),
        ('repository = "https://github.com/NVIDIA/apex"', 'repository = "github.com/NVIDIA/apex"', "https repository"),
        ("pattern = '^cu(?P<cuda>", "pattern = '^cu(?P<cuda", "label #1"),
        ('cuda = "11.1"\ngcc_max = 10', 'cuda = "10.9"\ngcc_max = 10', "host_gcc"),
        ('name = "xformers"', 'name = "flash-attn"', "listed twice"),
        ('call = "torchvision-nms"', 'call = "torchvision-resnet"', r"torchvision\): call must be"),
        ('import = "mmcv"', 'import = "mmcv; os.system"', r"mmcv-full\): import must be a module"),
        ('triton = "3.1"\npinned = ["3.1.0"]', 'triton = "3.1"\npinned = ["3.2.0"]', r"triton #6 \(torch 2.5\)"),
        ('torch = "2.6"\ntriton', 'torch = "2.4"\ntriton', "extensions.toml triton: versions must be"),
    ],
)  # fmt: skip
def test_a_broken_extensions_row_is_refused(tmp_path, old, new, message):
    with pytest.raises(MatrixError, match=message):
        _broken(tmp_path, old, new)


def test_every_extension_of_the_issue_is_in_the_table(matrix):
    names = {e["name"] for e in matrix.tables["extensions"]["extension"]}
    wanted = {"flash-attn", "xformers", "bitsandbytes", "apex", "deepspeed", "vllm", "sglang", "triton",
              "torchvision", "torchaudio", "torch-scatter", "torch-sparse", "torch-geometric", "mmcv",
              "detectron2", "onnxruntime-gpu", "tensorrt"}  # fmt: skip
    assert wanted <= names
