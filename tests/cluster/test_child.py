"""The rank child's own helpers, run here (its module imports torch only inside main())."""

from __future__ import annotations

from pathlib import Path

import pytest

from dldoctor.cluster import session
from dldoctor.cluster.child import rendezvous


def test_nccl_lines_keep_the_warnings_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = [f"h:1:2 [0] NCCL INFO Channel {i:02d} : 0[0] -> 1[1] via P2P/IPC" for i in range(300)]
    warn = "h:1:2 [0] misc/shmutils.cc:112 NCCL WARN Error while creating shared memory segment /dev/shm/nccl-x (size 5967872)"
    (tmp_path / "nccl.h.123.log").write_text("\n".join([*info, warn, "unrelated line"]) + "\n")
    monkeypatch.setitem(rendezvous.ARGS, "nccl_log", str(tmp_path / "nccl.%h.%p.log"))
    lines = rendezvous.nccl_lines()
    assert lines[0] == warn
    assert len(lines) == rendezvous.NCCL_LINES
    assert "unrelated line" not in lines


def test_nccls_file_is_set_unless_the_user_set_one(tmp_path: Path) -> None:
    ours = session.child_env({}, str(tmp_path))
    assert ours["NCCL_DEBUG"] == "INFO" and ours["NCCL_DEBUG_FILE"].startswith(str(tmp_path))
    theirs = session.child_env({"NCCL_DEBUG": "WARN", "NCCL_DEBUG_FILE": "/x"}, str(tmp_path))
    assert (theirs["NCCL_DEBUG"], theirs["NCCL_DEBUG_FILE"]) == ("WARN", "/x")


@pytest.mark.parametrize(
    ("spec", "rank", "wanted"),
    [
        ("die@all-reduce:1", 1, {"do": "die", "at": "all-reduce"}),
        ("die@all-reduce:1", 0, None),
        ("sleep@join:0", 0, {"do": "sleep", "at": "join"}),
        ("explode@join:0", 0, None),
        ("", 0, None),
    ],
)
def test_the_fault_seam_hits_only_its_rank(spec: str, rank: int, wanted: object) -> None:
    assert session.fault(spec, rank) == wanted
