"""signatures.toml: every row's real words match it, its near misses do not, and bad rows are
refused when the file is loaded."""

from __future__ import annotations

import copy

import pytest

from dldoctor.matrix import MatrixError, _read, data_dir, load, parsed, signatures
from dldoctor.matrix.signatures import load_signatures, scan

ROWS = load().signatures.rows
DOC = _read("signatures.toml", data_dir())


def _ids(text: str) -> list[str]:
    return [m.signature.id for m in scan(text)]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_every_signature_matches_the_words_quoted_from_its_source(row):
    assert row.examples, "each signature quotes at least one real line"
    for example in row.examples:
        assert row.id in _ids(example), example


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_no_signature_matches_its_near_misses(row):
    assert row.near_misses, "each signature names at least one line it must not match"
    for line in row.near_misses:
        assert row.id not in _ids(line), line


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_every_signature_is_sourced_where_maintainers_said_it(row):
    assert row.source.startswith("https://")


def test_torch_cudnn_words_give_both_versions():
    (match,) = scan(
        "RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (8, 9, 2) "
        "but found runtime version (8, 5, 0). PyTorch already comes bundled with cuDNN."
    )
    assert match.cause == "cudnn-version-mismatch"
    assert match.groups == {"built": "8, 9, 2", "found": "8, 5, 0"}
    assert match.title("PyTorch 2.1.0") == (
        "PyTorch 2.1.0 was built against cuDNN 8, 9, 2 but loaded cuDNN 8, 5, 0"
    )


def test_an_undefined_symbol_names_the_shadowing_library_from_its_version_tag():
    (match,) = scan(
        "ImportError: /env/lib/python3.11/site-packages/torch/lib/../../nvidia/cusparse/lib/"
        "libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12"
    )
    assert match.groups["victim"] == "libcusparse.so.12"
    assert match.groups["provider"] == "libnvJitLink.so.12"


def test_an_undefined_symbol_without_a_version_tag_names_it_from_the_symbol_prefix():
    (match,) = scan(
        "ImportError: /env/site-packages/torch/lib/libtorch_cuda.so: undefined symbol: "
        "ncclCommRegister"
    )
    assert match.groups["provider"] == "libnccl"
    (lt,) = scan("/x/libcublas.so.11: undefined symbol: cublasLtGetStatusString")
    assert lt.groups["provider"] == "libcublasLt"  # the longest prefix, not libcublas


def test_a_specific_match_hides_the_generic_one_in_the_same_text():
    text = (
        "Loaded runtime CuDNN library: 8.5.0 but source was compiled with: 8.6.0.\n"
        "FAILED_PRECONDITION: DNN library initialization failed."
    )
    assert _ids(text) == ["xla-cudnn-loaded-runtime"]
    assert _ids("FAILED_PRECONDITION: DNN library initialization failed.") == ["cudnn-init-failed"]


def test_scan_is_pure_and_bounded():
    text = "ImportError: libcudart.so.12: cannot open shared object file"
    assert scan(text) == scan(text)
    assert scan("x" * 10_000_000 + " CUDA unknown error") == []  # beyond the scanned length
    assert scan("") == []


def _broken(**change: object) -> dict:
    doc = copy.deepcopy(DOC)
    doc["signature"][0].update(change)
    return doc


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"source": "issue 123"}, "source must be an https URL"),
        ({"patterns": ["(unclosed"]}, "bad pattern"),
        ({"patterns": []}, "patterns must be a non-empty list"),
        ({"title": "{framework} saw {nothing}"}, "title uses ['nothing']"),
        ({"code": "D611"}, "is not of the form DD123"),
        ({"severity": "fatal"}, "severity must be one of"),
        ({"id": "Not Kebab"}, "kebab-case"),
        ({"intents": [{"action": "reboot"}], "advice": ""}, "intents need the advice"),
        ({"intents": ["sudo reboot"], "advice": "Reboot."}, "must be tables naming an action"),
        (
            {"intents": [{"action": "shell"}], "advice": "Reboot."},
            "must be tables naming an action",
        ),
        (
            {"commands": [["sudo", "reboot"]], "advice": "Reboot."},
            "commands are rendered by fixes/",
        ),
    ],
)
def test_a_malformed_row_is_refused_naming_it(change, said):
    with pytest.raises(ValueError) as caught:
        load_signatures(_broken(**change))
    assert "signature #1 (" in str(caught.value)
    assert said in str(caught.value)


def test_a_row_without_a_source_is_refused():
    doc = copy.deepcopy(DOC)
    del doc["signature"][3]["source"]
    with pytest.raises(ValueError, match=r"signature #4 .*missing 'source'"):
        load_signatures(doc)


def test_an_id_listed_twice_is_refused():
    doc = copy.deepcopy(DOC)
    doc["signature"].append(copy.deepcopy(doc["signature"][0]))
    with pytest.raises(ValueError, match="id listed twice"):
        load_signatures(doc)


def test_every_shipped_pattern_compiles_and_each_title_names_only_its_groups():
    assert len(load_signatures(DOC).rows) == len(ROWS)  # what the copy's build checks


ROW = """[[signature]]
id = "a-b"
cause = "a-b"
code = "DD611"
severity = "error"
title = "{framework} saw {x}"
source = "https://example.org/1"
patterns = [PATTERN]
"""


def test_a_broken_pattern_is_refused_at_load_on_every_run_and_a_good_one_compiled_at_use(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(parsed.ENV_OFF, raising=False)
    (tmp_path / "signatures.toml").write_text(ROW.replace("PATTERN", repr("(?P<x>y")))
    for _ in range(2):  # the first run wrote no copy for the second to trust
        with pytest.raises(MatrixError, match=r"signature #1 \(a-b\): bad pattern"):
            signatures.read(tmp_path)
    (tmp_path / "signatures.toml").write_text(ROW.replace("PATTERN", repr("(?P<x>y)")))
    signatures.read(tmp_path)  # validated, and its copy written
    (row,) = signatures.read(tmp_path).rows  # from the copy
    assert "patterns" not in vars(row)  # not compiled until a text is scanned
    (match,) = scan("y", signatures.read(tmp_path))
    assert match.title() == "the framework saw y" and "patterns" in vars(match.signature)
