"""The compatibility matrix: loads, every row is sourced, and a broken file is named, not raised."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dldoctor.matrix import MatrixError, data_dir, load


def copy_matrix(tmp_path: Path) -> Path:
    root = tmp_path / "matrix"
    shutil.copytree(data_dir(), root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def test_shipped_matrix_loads_and_every_row_has_a_source(matrix):
    assert matrix.packages and matrix.cpu_rules and matrix.cuda_toolkits and matrix.torch_releases
    assert all(rule.source for rule in matrix.cpu_rules)
    assert all(row.source for row in (*matrix.cuda_majors, *matrix.cuda_toolkits))
    assert all(row.source for row in matrix.torch_arches)
    for name, table in matrix.tables.items():
        rows = [r for v in table.values() if isinstance(v, list) for r in v if isinstance(r, dict)]
        assert rows, name
        assert all(r.get("source") for r in rows) or table.get("source"), name


def test_known_facts_are_as_the_sources_say(matrix):
    assert matrix.toolkit_floor("12.8.1").linux == "570.26"
    assert matrix.toolkit_floor("13.0.88").linux == "580.65.06"
    assert {m.cuda: m.linux for m in matrix.cuda_majors}["12"] == "525.60.13"
    assert matrix.torch_release("2.13.0+cpu").cuda == ("12.6", "13.0", "13.2")
    assert matrix.torch_release("1.0.0") is None
    assert matrix.torch_arch("2.13.0+cu126", "12.6").sm[-1] == "9.0"  # no Blackwell in cu126
    assert matrix.torch_arch("2.13.0", "13.0").ptx == ("12.0",)
    assert matrix.row_for("tensorflow", "tensorflow", "2.16.1")["cudnn"] == "8.9"
    assert matrix.rows_matching("jax", "jax", "0.10.2")["python"] == ">=3.11"


def test_garbled_file_is_named_in_the_error(tmp_path):
    root = copy_matrix(tmp_path)
    (root / "pytorch.toml").write_text("[[release]\ntorch = ")
    with pytest.raises(MatrixError, match=r"^pytorch.toml"):
        load.__wrapped__(root)


def test_row_without_a_required_key_is_named(tmp_path):
    root = copy_matrix(tmp_path)
    text = (root / "cpu_instructions.toml").read_text().replace('flags = ["avx"]', "", 1)
    (root / "cpu_instructions.toml").write_text(text)
    with pytest.raises(MatrixError, match=r"cpu_instructions.toml rule #1: missing 'flags'"):
        load.__wrapped__(root)


def test_toolkit_rows_out_of_order_are_refused(tmp_path):
    root = copy_matrix(tmp_path)
    text = (root / "cuda_drivers.toml").read_text()
    text += '\n[[toolkit]]\ncuda = "12.0"\nlinux = "525.60.13"\n'
    (root / "cuda_drivers.toml").write_text(text)
    with pytest.raises(MatrixError, match="release order"):
        load.__wrapped__(root)


def test_a_default_variant_that_is_not_published_is_refused(tmp_path):
    root = copy_matrix(tmp_path)
    text = (
        (root / "pytorch.toml")
        .read_text()
        .replace('pypi_default = "13.0"', 'pypi_default = "11.1"', 1)
    )
    (root / "pytorch.toml").write_text(text)
    with pytest.raises(MatrixError, match=r"pypi_default 11\.1 is not one of its variants"):
        load.__wrapped__(root)
