"""The digest a node sends: what nodes must share, unknown kept apart from none, bounded."""

from __future__ import annotations

import json

from dldoctor.cluster import digest as digests
from dldoctor.facts.model import Facts
from dldoctor.model import Area, Finding, Severity


def test_builds_say_what_they_run_on() -> None:
    facts = Facts(
        packages={
            "frameworks": {
                "torch": {"distributions": [{"name": "torch", "version": "2.13.0+cpu"}], "build": {"cuda": False}},
                "tensorflow": {"distributions": [{"name": "tensorflow", "version": "2.21.0"}], "build": {"is_cuda_build": False}},
                "paddle": {"distributions": [{"name": "paddlepaddle-gpu", "version": "3.3.1"}], "build": {"cuda_version": "12.6"}},
                "jax": {"distributions": [{"name": "jax", "version": "0.10.2"}], "build": {}},
            }
        }
    )  # fmt: skip
    fields = digests.digest(facts)["fields"]
    assert fields["framework:torch"] == "torch 2.13.0+cpu (CPU build)"
    assert fields["framework:tensorflow"] == "tensorflow 2.21.0 (CPU build)"
    assert fields["framework:paddle"] == "paddlepaddle-gpu 3.3.1 (CUDA 12.6)"
    assert fields["framework:jax"] == "jax 0.10.2"


def test_no_driver_is_known_an_unreadable_one_is_not() -> None:
    none = digests.digest(Facts(nvidia={"nvml": {"status": "library_not_found"}, "gpus": []}))
    assert none["fields"]["driver"] == "none" and none["fields"]["gpus"] == "none"
    unknown = digests.digest(Facts(nvidia={"nvml": {"status": "timeout"}, "gpus": None}))
    assert unknown["fields"]["driver"] is None and "gpus" not in unknown["fields"]


def test_only_the_variables_nodes_must_share() -> None:
    variables = {
        "PATH": "/a",
        "NCCL_IB_HCA": "mlx5",
        "LD_LIBRARY_PATH": "/b",
        "GLOO_SOCKET_IFNAME": "eth0",
        "HOME": "/h",
    }
    fields = digests.digest(Facts(env={"variables": variables}))["fields"]
    assert sorted(k for k in fields if k.startswith("env:")) == [
        "env:GLOO_SOCKET_IFNAME", "env:LD_LIBRARY_PATH", "env:NCCL_IB_HCA",
    ]  # fmt: skip
    assert "env" in digests.digest(Facts(env={"variables": {}}))["sections"]  # known, all unset
    assert "env" not in digests.digest(Facts())["sections"]  # not known at all


def test_a_payload_too_large_drops_the_evidence_first() -> None:
    big = Finding(
        "DD301", Severity.WARNING, "twice", Area.PACKAGES, evidence={"x": "y" * (2 << 20)}
    )
    data = digests.payload(0, "h", 0, Facts(), [big], None)
    assert len(data) <= digests.MAX_PAYLOAD_BYTES
    (finding,) = json.loads(data)["findings"]
    assert finding["title"] == "twice" and finding["evidence"] == {}


def test_the_gatherer_reads_the_network_variables_the_digest_compares() -> None:
    from dldoctor.facts.env_vars import gather_env

    env = {
        "GLOO_SOCKET_IFNAME": "eth0",
        "UCX_TLS": "rc",
        "FI_PROVIDER": "efa",
        "NCCL_DEBUG": "WARN",
    }
    fields = digests.digest(Facts(env=gather_env(env)))["fields"]
    assert {k: v for k, v in fields.items() if k.startswith("env:")} == {
        "env:FI_PROVIDER": "efa", "env:GLOO_SOCKET_IFNAME": "eth0", "env:NCCL_DEBUG": "WARN", "env:UCX_TLS": "rc",
    }  # fmt: skip


def test_cudnn_is_none_only_where_a_probe_asked() -> None:
    asked = {"torch": {"info": {"cudnn_version": None}, "libraries": []}}
    known = digests.digest(Facts(runtime={"ran": True, "frameworks": asked}))
    assert "cudnn" in known["sections"] and "nccl" not in known["sections"]
    silent = {"torch": {"info": {}, "libraries": []}}  # the probe failed before it asked
    assert (
        "cudnn"
        not in digests.digest(Facts(runtime={"ran": True, "frameworks": silent}))["sections"]
    )
