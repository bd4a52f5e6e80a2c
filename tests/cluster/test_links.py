"""Network links from a fake sysfs root, and the bus bandwidth set against the slowest node's."""

from __future__ import annotations

from pathlib import Path

from dldoctor.cluster.judge import judge
from dldoctor.cluster.links import network_links, node_bandwidth
from dldoctor.cluster.state import ClusterState, NodeState, RankState
from dldoctor.matrix import Matrix

GBPS = 1e9 / 8  # bytes/s in one Gb/s


def fake_sysfs(root: Path, ib: dict[str, tuple[str, str]], eth: dict[str, tuple[str, str]]) -> Path:
    for name, (rate, state) in ib.items():
        port = root / "sys/class/infiniband" / name / "ports/1"
        port.mkdir(parents=True)
        (port / "rate").write_text(rate)
        (port / "state").write_text(state)
    for name, (speed, up) in eth.items():
        link = root / "sys/class/net" / name
        (link / "device").mkdir(parents=True)
        (link / "speed").write_text(speed)
        (link / "operstate").write_text(up)
    (root / "sys/class/net/lo").mkdir(parents=True, exist_ok=True)  # loopback: no device
    return root


def test_active_infiniband_ports_add_up(tmp_path: Path) -> None:
    root = fake_sysfs(
        tmp_path,
        {"mlx5_0": ("400 Gb/sec (4X NDR)\n", "4: ACTIVE\n"), "mlx5_1": ("400 Gb/sec (4X NDR)\n", "4: ACTIVE\n"),
         "mlx5_2": ("400 Gb/sec (4X NDR)\n", "1: DOWN\n")},
        {"eth0": ("25000\n", "up\n")},
    )  # fmt: skip
    links = network_links(root)
    assert [p["active"] for p in links["infiniband"]] == [True, True, False]
    assert node_bandwidth(links) == (800 * GBPS, "2 InfiniBand port(s), 800 Gb/s")


def test_without_infiniband_the_fastest_ethernet_that_is_up(tmp_path: Path) -> None:
    root = fake_sysfs(
        tmp_path, {}, {"eth0": ("25000", "up"), "eth1": ("100000", "down"), "eth2": ("-1", "up")}
    )
    links = network_links(root)
    assert [e["name"] for e in links["ethernet"]] == ["eth0", "eth1", "eth2"]  # lo is not one
    assert node_bandwidth(links) == (25000e6 / 8, "Ethernet, 25 Gb/s")


def test_no_links_known_is_none(tmp_path: Path) -> None:
    assert network_links(tmp_path) == {"infiniband": [], "ethernet": []}
    assert node_bandwidth({}) is None


def state_with(busbw: float, links: list[dict[str, object]]) -> ClusterState:
    band = {"test": "bandwidth", "status": "pass", "busbw_bytes_per_s": busbw}
    ranks = [
        RankState(r, r, f"n{r}", 0, True, True, "bandwidth", "nccl", [band])
        for r in range(len(links))
    ]
    nodes = [
        NodeState(f"n{i}", i, f"n{i}", [i], reported=True, links=dict(node))
        for i, node in enumerate(links)
    ]
    return ClusterState(len(links), ranks, nodes, [], [])


def ib(gbps: float) -> dict[str, object]:
    return {"infiniband": [{"device": "mlx5_0", "port": "1", "rate_gbps": gbps, "active": True}]}


def test_bus_bandwidth_against_the_slowest_nodes_links(matrix: Matrix) -> None:
    (finding,) = judge(state_with(10e9, [ib(400), ib(200), ib(400)]), 300.0, matrix.signatures)
    assert finding.code == "DD809" and finding.severity.value == "info"
    assert (
        finding.evidence["expected_bytes_per_s"] == 200 * GBPS
        and finding.evidence["slowest_node"] == "n1"
    )
    assert "40% of the 25.00 GB/s of n1's links" in finding.title


def test_a_node_whose_links_are_unknown_compares_nothing(matrix: Matrix) -> None:
    assert judge(state_with(10e9, [ib(400), {}]), 300.0, matrix.signatures) == []


def test_one_node_has_no_network_figure(matrix: Matrix) -> None:
    assert judge(state_with(10e9, [ib(400)]), 300.0, matrix.signatures) == []
