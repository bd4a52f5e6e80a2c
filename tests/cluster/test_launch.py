"""Launch detection: torchrun's and srun's variables, and what is refused."""

from __future__ import annotations

import pytest

from dldoctor.cluster.launch import LaunchError, detect

TORCHRUN = {
    "RANK": "5",
    "WORLD_SIZE": "8",
    "LOCAL_RANK": "1",
    "LOCAL_WORLD_SIZE": "4",
    "GROUP_RANK": "1",
    "MASTER_ADDR": "node-a",
    "MASTER_PORT": "29500",
    "TORCHELASTIC_RUN_ID": "job7",
    "TORCHELASTIC_USE_AGENT_STORE": "True",
}
SLURM = {
    "SLURM_PROCID": "3",
    "SLURM_NTASKS": "4",
    "SLURM_LOCALID": "1",
    "SLURM_NODEID": "1",
    "SLURM_STEP_ID": "0",
    "SLURM_JOB_ID": "123456",
    "SLURM_STEP_NODELIST": "gpu[07-08]",
    "SLURM_NNODES": "2",
}


def test_no_launcher_is_none() -> None:
    assert detect({"PATH": "/bin"}) is None


def test_torchrun() -> None:
    launch = detect(TORCHRUN)
    assert launch is not None
    assert (launch.launcher, launch.rank, launch.world_size) == ("torchrun", 5, 8)
    assert (launch.local_rank, launch.node_rank, launch.nodes) == (1, 1, 2)
    assert (launch.master_addr, launch.master_port, launch.agent_store) == ("node-a", 29500, True)
    assert not launch.gatherer  # local rank 1: node-a's local rank 0 gathers


def test_local_rank_0_gathers() -> None:
    launch = detect({**TORCHRUN, "LOCAL_RANK": "0", "RANK": "4"})
    assert launch is not None and launch.gatherer


def test_slurm_rendezvous_is_the_first_host_of_the_step() -> None:
    launch = detect(SLURM)
    assert launch is not None
    assert (launch.launcher, launch.rank, launch.world_size, launch.node_rank) == ("slurm", 3, 4, 1)
    assert launch.master_addr == "gpu07"
    assert launch.master_port == 15000 + 3456  # the job id's last four digits
    assert launch.nodes == 2


def test_slurm_honours_master_addr_and_port() -> None:
    launch = detect({**SLURM, "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "12345"})
    assert launch is not None
    assert (launch.master_addr, launch.master_port) == ("10.0.0.1", 12345)


def test_torchrun_inside_srun_is_torchrun() -> None:
    launch = detect({**SLURM, **TORCHRUN})
    assert launch is not None and launch.launcher == "torchrun"


def test_a_batch_script_is_not_a_step() -> None:
    env = {k: v for k, v in SLURM.items() if k != "SLURM_STEP_ID"}
    with pytest.raises(LaunchError, match="srun"):
        detect(env)


@pytest.mark.parametrize(
    ("env", "word"),
    [
        ({**TORCHRUN, "RANK": "8"}, "RANK=8"),
        ({**TORCHRUN, "RANK": "-1"}, "RANK"),
        ({**TORCHRUN, "WORLD_SIZE": "x"}, "WORLD_SIZE"),
        ({**TORCHRUN, "MASTER_PORT": "70000"}, "MASTER_PORT"),
        ({**TORCHRUN, "MASTER_ADDR": "a;rm -rf /"}, "MASTER_ADDR"),
        ({**TORCHRUN, "LOCAL_RANK": "4"}, "LOCAL_RANK"),
        ({**SLURM, "SLURM_STEP_NODELIST": "gpu[07-"}, "SLURM_STEP_NODELIST"),
        ({k: v for k, v in SLURM.items() if k != "SLURM_JOB_ID"}, "MASTER_PORT"),
    ],
)
def test_nonsense_is_named(env: dict[str, str], word: str) -> None:
    with pytest.raises(LaunchError, match=word):
        detect(env)
