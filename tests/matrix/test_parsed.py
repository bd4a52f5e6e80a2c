"""The parsed copies of the matrix's TOML files: used when they match, never when stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dldoctor.matrix import MatrixError, _read, data_dir, load, parsed


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(parsed.ENV_OFF, raising=False)
    return tmp_path / "cache" / "dldoctor" / "matrix"


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data" / "table.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_first_read_writes_a_copy_that_the_second_read_uses(tmp_path: Path, cache: Path) -> None:
    path = _toml(tmp_path, 'source = "x"\n[[row]]\nname = "a"\n')
    assert parsed.read(path) == {"source": "x", "row": [{"name": "a"}]}
    (copy,) = cache.glob("table-*.json")
    # The second read comes from the copy: what the copy says is what is returned.
    copy.write_text(json.dumps({"source": "from the copy"}))
    assert parsed.read(path) == {"source": "from the copy"}


def test_an_edited_file_never_meets_the_copy_of_its_earlier_bytes(
    tmp_path: Path, cache: Path
) -> None:
    path = _toml(tmp_path, 'v = "old"\n')
    assert parsed.read(path) == {"v": "old"}
    path.write_text('v = "new"\n')
    assert parsed.read(path) == {"v": "new"}
    path.write_text('v = "old"\n')
    assert parsed.read(path) == {"v": "old"}


def test_two_installs_sharing_the_cache_keep_each_others_copy(tmp_path: Path, cache: Path) -> None:
    """Two editions read in turn (two venvs, two checkouts): each is parsed once, then read
    from its copy; past EDITIONS editions the oldest copies go."""
    path = _toml(tmp_path, "v = 0\n")

    def read(edition: int) -> dict[str, object]:
        path.write_text(f"v = {edition}\n")
        doc = parsed.read(path)
        for copy in cache.glob("table-*.json"):  # written in this order, whatever the clock
            if json.loads(copy.read_text())["v"] in (edition, f"copy of {edition}"):
                os.utime(copy, (1000 + edition, 1000 + edition))
        return doc

    read(0), read(1)
    assert len(list(cache.glob("table-*.json"))) == 2
    for copy in cache.glob("table-*.json"):  # what the copies say is what the reads return
        copy.write_text(json.dumps({"v": f"copy of {json.loads(copy.read_text())['v']}"}))
    for edition in (0, 1, 0):
        assert read(edition) == {"v": f"copy of {edition}"}
    for edition in range(2, parsed.EDITIONS + 4):
        read(edition)
        assert len(list(cache.glob("table-*.json"))) == min(parsed.EDITIONS, edition + 1)
    kept = sorted(json.loads(c.read_text())["v"] for c in cache.glob("table-*.json"))
    newest = parsed.EDITIONS + 3
    assert kept == list(range(newest - parsed.EDITIONS + 1, newest + 1))


@pytest.mark.parametrize("garbage", ["{not json", "[1, 2]", '"a string"', ""])
def test_a_broken_copy_falls_back_to_the_toml(tmp_path: Path, cache: Path, garbage: str) -> None:
    path = _toml(tmp_path, "n = 1\n")
    parsed.read(path)
    (copy,) = cache.glob("table-*.json")
    copy.write_text(garbage)
    assert parsed.read(path) == {"n": 1}


def test_an_oversized_copy_is_not_read(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _toml(tmp_path, "n = 1\n")
    parsed.read(path)
    (copy,) = cache.glob("table-*.json")
    copy.write_text(json.dumps({"n": 2, "pad": "x" * 100}))
    monkeypatch.setattr(parsed, "MAX_BYTES", 60)
    assert parsed.read(path) == {"n": 1}


def test_values_json_cannot_hold_leave_no_copy(tmp_path: Path, cache: Path) -> None:
    path = _toml(tmp_path, "released = 2024-05-01\nlimit = inf\n")
    doc = parsed.read(path)
    assert str(doc["released"]) == "2024-05-01" and doc["limit"] == float("inf")
    assert not list(cache.glob("*.json"))
    assert parsed.read(path) == doc  # and the TOML keeps being read


def test_an_unwritable_cache_folder_costs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = _toml(tmp_path, "n = 3\n")
    assert parsed.read(path) == {"n": 3}
    assert blocker.read_text() == ""


def test_the_switch_and_a_relative_xdg_value_are_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as the XDG spec says
    assert parsed.cache_dir() == tmp_path / "home" / ".cache" / "dldoctor" / "matrix"
    monkeypatch.setenv(parsed.ENV_OFF, "1")
    assert parsed.cache_dir() is None
    path = _toml(tmp_path, "n = 4\n")
    assert parsed.read(path) == {"n": 4}
    assert not (tmp_path / "home" / ".cache").exists()


def test_a_bad_toml_file_is_still_a_matrix_error_naming_it(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "broken.toml").write_text("[[row]\n")
    with pytest.raises(MatrixError, match=r"broken\.toml"):
        _read("broken.toml", tmp_path)
    (tmp_path / "latin.toml").write_bytes(b'v = "\xe9"\n')
    with pytest.raises(MatrixError, match=r"latin\.toml"):
        _read("latin.toml", tmp_path)


def test_the_real_matrix_loads_the_same_from_its_copies(cache: Path) -> None:
    load.cache_clear()
    try:
        first = load()
        assert len(list(cache.glob("*.json"))) == len(list(data_dir().glob("*.toml")))
        load.cache_clear()
        assert load() == first
    finally:
        load.cache_clear()


def test_a_check_with_copies_in_place_does_not_import_the_toml_parser(
    tmp_path: Path, cache: Path
) -> None:
    code = "import sys; from dldoctor.matrix import load; load(); print('tomllib' in sys.modules)"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop(parsed.ENV_OFF, None)
    run = [sys.executable, "-c", code]
    first = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    again = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), again.stdout.strip()) == ("True", "False")


def test_a_check_runs_before_the_copy_is_written_and_its_copy_is_named_apart(
    tmp_path: Path, cache: Path
) -> None:
    path = _toml(tmp_path, "v = 1\n")
    checked: list[object] = []

    def refuse(doc: dict[str, object]) -> None:
        checked.append(doc)
        raise ValueError("refused")

    for _ in range(2):  # refused on every read: nothing refused is kept
        with pytest.raises(ValueError, match="refused"):
            parsed.read(path, refuse)
    assert len(checked) == 2 and list(cache.glob("table-*.json")) == []
    assert parsed.read(path) == {"v": 1}  # unchecked: a copy of its own
    assert parsed.read(path, checked.append) == parsed.read(path, checked.append) == {"v": 1}
    assert len(checked) == 3  # the second checked read came from the checked copy
    assert len(list(cache.glob("table-*.json"))) == 2  # an unchecked copy proves nothing
