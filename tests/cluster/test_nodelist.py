"""Slurm host lists: expanded as Slurm does, the first host found, and written back compressed."""

from __future__ import annotations

import pytest

from dldoctor.cluster.nodelist import NodeListError, compress, expand, first


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("node01", ["node01"]),
        ("node[01-04,07]", ["node01", "node02", "node03", "node04", "node07"]),
        ("n[8-10]", ["n8", "n9", "n10"]),
        ("n[08-10]", ["n08", "n09", "n10"]),
        ("login,gpu[1-2]", ["login", "gpu1", "gpu2"]),
        ("gpu[1-2],cpu[3]", ["gpu1", "gpu2", "cpu3"]),
        ("rack[1-2]-gpu[1,3]", ["rack1-gpu1", "rack1-gpu3", "rack2-gpu1", "rack2-gpu3"]),
        ("a[1-2]b", ["a1b", "a2b"]),
    ],
)
def test_expand_as_slurm_does(text: str, hosts: list[str]) -> None:
    assert expand(text) == hosts
    assert first(text) == hosts[0]


@pytest.mark.parametrize(
    "text", ["", "node[01-04", "node01-04]", "n[4-1]", "n[a-b]", "n[[1]]", "n[1-]", "a b"]
)
def test_broken_lists_are_refused(text: str) -> None:
    with pytest.raises(NodeListError):
        expand(text)


def test_a_huge_range_is_refused_without_expanding_it() -> None:
    with pytest.raises(NodeListError):
        expand("n[0-999999999]")


def test_first_does_not_expand_the_rest() -> None:
    assert first("head,n[0-99999999]") == "head"


@pytest.mark.parametrize(
    "hosts",
    [
        ["gpu03", "gpu07", "gpu08", "gpu09"],
        ["node1", "node2", "node10"],
        ["login", "gpu01", "gpu02"],
        ["a"],
    ],
)
def test_compress_reads_back_to_the_same_hosts(hosts: list[str]) -> None:
    assert expand(compress(hosts)) == hosts


def test_compress_spells_runs() -> None:
    assert compress(["gpu03", "gpu07", "gpu08", "gpu09"]) == "gpu[03,07-09]"
    assert compress(["vm#0", "vm#1"]) == "vm#[0-1]"
