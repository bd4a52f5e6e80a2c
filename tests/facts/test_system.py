"""The system section, gathered from fake roots built under tmp_path and from this machine."""

from __future__ import annotations

import json
import os
import platform
import socket
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dldoctor.facts import system as system_module
from dldoctor.facts.host import Host
from dldoctor.facts.system import gather_system
from dldoctor.facts.system_linux import count_cpu_list
from tests.fakes.fsroot import script, write

PART = json.loads(
    resources.files("dldoctor.document").joinpath("schema/facts-system.json").read_text()
)
# Validated as dldoctor.document.schema embeds it in the report: under $defs, refs resolving there.
SCHEMA = {
    "$schema": PART["$schema"],
    "$defs": {"facts-system": {k: v for k, v in PART.items() if k != "$schema"}},
    "$ref": "#/$defs/facts-system",
}


def gather(root: Path, env: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    facts = gather_system(Host(root=root, env=env or {"PATH": ""}), **kwargs)
    jsonschema.validate(facts, SCHEMA)  # every scenario's facts must fit the report schema
    return facts


def cpuinfo(block: str, count: int) -> str:
    return "\n".join(f"processor\t: {i}\n{block}" for i in range(count))


SAPPHIRE_RAPIDS = """vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sse sse2 ht syscall nx pdpe1gb lm pni \
pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand \
hypervisor lahf_lm abm 3dnowprefetch bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq \
rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt \
avx_vnni avx512_bf16 avx512vbmi umip pku avx512_vbmi2 gfni vaes avx512_vnni \
avx512_bitalg avx512_vpopcntdq serialize amx_bf16 avx512_fp16 amx_tile amx_int8 arch_capabilities
"""

CORE2 = """vendor_id\t: GenuineIntel
model name\t: Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush \
dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx lm constant_tsc pni dtes64 monitor ds_cpl \
vmx smx est tm2 ssse3 cx16 xtpr pdcm sse4_1 xsave lahf_lm
"""

GRAVITON3 = """BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm \
jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs \
paca pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x1
CPU part\t: 0xd40
CPU revision\t: 1
"""


def test_avx512_amx_xeon_reports_only_the_instruction_sets_frameworks_use(tmp_path: Path) -> None:
    write(tmp_path, "/proc/cpuinfo", cpuinfo(SAPPHIRE_RAPIDS, 4))
    cpu = gather(tmp_path, os_name="Linux", machine="x86_64")["cpu"]
    assert cpu["model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert cpu["vendor"] == "GenuineIntel"
    assert cpu["logical_cores"] == 4
    assert cpu["flags_source"] == "/proc/cpuinfo"
    assert cpu["flags"] == [
        "amx_bf16",
        "amx_int8",
        "amx_tile",
        "avx",
        "avx2",
        "avx512_bf16",
        "avx512_fp16",
        "avx512_vnni",
        "avx512bw",
        "avx512cd",
        "avx512dq",
        "avx512f",
        "avx512vl",
        "avx_vnni",
        "f16c",
        "fma",
        "sse4_1",
        "sse4_2",
    ]


def test_old_cpu_without_avx_has_only_sse4_1(tmp_path: Path) -> None:
    write(tmp_path, "/proc/cpuinfo", cpuinfo(CORE2, 2))
    facts = gather(tmp_path, os_name="Linux", machine="x86_64")
    assert facts["cpu"]["flags"] == ["sse4_1"]
    assert facts["cpu"]["logical_cores"] == 2
    assert "cpu.flags" not in facts["errors"]


def test_aarch64_cpuinfo_reads_features_and_implementer(tmp_path: Path) -> None:
    write(tmp_path, "/proc/cpuinfo", cpuinfo(GRAVITON3, 8))
    facts = gather(tmp_path, os_name="Linux", machine="aarch64")
    cpu = facts["cpu"]
    assert facts["architecture"] == "aarch64"
    assert cpu["vendor"] == "ARM"
    assert cpu["logical_cores"] == 8
    assert cpu["flags"] == [
        "asimd",
        "asimddp",
        "asimdfhm",
        "asimdhp",
        "bf16",
        "i8mm",
        "sve",
        "svebf16",
        "svei8mm",
    ]
    # arm64 kernels print no model name: null, with the reason kept.
    assert cpu["model"] is None
    assert facts["errors"]["cpu.model"] == "/proc/cpuinfo has no model line"


@pytest.mark.parametrize("make_unreadable", ["directory", "broken_symlink"])
def test_unreadable_cpuinfo_gives_nulls_and_a_reason(tmp_path: Path, make_unreadable: str) -> None:
    if make_unreadable == "directory":
        (tmp_path / "proc" / "cpuinfo").mkdir(parents=True)
        reason = "/proc/cpuinfo is unreadable"
    else:
        (tmp_path / "proc").mkdir()
        (tmp_path / "proc" / "cpuinfo").symlink_to(tmp_path / "nowhere")
        reason = "/proc/cpuinfo does not exist"
    write(tmp_path, "/sys/devices/system/cpu/online", "0-3\n")
    facts = gather(tmp_path, os_name="Linux", machine="x86_64")
    cpu = facts["cpu"]
    assert (cpu["model"], cpu["vendor"], cpu["flags"], cpu["flags_source"]) == (None,) * 4
    assert facts["errors"]["cpu"] == reason
    assert cpu["logical_cores"] == 4  # from /sys/devices/system/cpu/online instead


def test_cgroup_v2_quota_of_one_and_a_half_cpus_rounds_up_to_two(tmp_path: Path) -> None:
    write(tmp_path, "/proc/cpuinfo", cpuinfo(CORE2, 8))
    write(tmp_path, "/proc/self/status", "Name:\tpython\nCpus_allowed_list:\t0-7\n")
    write(tmp_path, "/proc/self/cgroup", "0::/kubepods/pod1/ctr\n")
    write(tmp_path, "/sys/fs/cgroup/cpu.max", "max 100000\n")
    write(tmp_path, "/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "150000 100000\n")
    cpu = gather(tmp_path, os_name="Linux")["cpu"]
    assert cpu["cgroup_quota_cores"] == 1.5
    assert cpu["usable_cores"] == 2
    assert cpu["logical_cores"] == 8


def test_cgroup_quota_of_a_parent_applies_when_tighter(tmp_path: Path) -> None:
    write(tmp_path, "/proc/self/status", "Cpus_allowed_list:\t0-15\n")
    write(tmp_path, "/proc/self/cgroup", "0::/job/step\n")
    write(tmp_path, "/sys/fs/cgroup/job/cpu.max", "50000 100000\n")
    write(tmp_path, "/sys/fs/cgroup/job/step/cpu.max", "400000 100000\n")
    cpu = gather(tmp_path, os_name="Linux")["cpu"]
    assert cpu["cgroup_quota_cores"] == 0.5
    assert cpu["usable_cores"] == 1


def test_cgroup_v1_quota_in_a_container_without_cgroup_namespace(tmp_path: Path) -> None:
    # /proc/self/cgroup names the host's path, which is not mounted inside: its root is ours.
    write(tmp_path, "/proc/self/status", "Cpus_allowed_list:\t0-31\n")
    write(tmp_path, "/proc/self/cgroup", "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    write(tmp_path, "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "250000\n")
    write(tmp_path, "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    write(tmp_path, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "8589934592\n")
    facts = gather(tmp_path, os_name="Linux")
    assert facts["cpu"]["usable_cores"] == 3
    assert facts["memory"]["cgroup_limit_bytes"] == 8 << 30


def test_affinity_tighter_than_quota_wins_and_unlimited_limits_are_null(tmp_path: Path) -> None:
    write(tmp_path, "/proc/self/status", "Cpus_allowed_list:\t0,4-5\n")
    write(tmp_path, "/proc/self/cgroup", "4:memory:/\n1:cpu:/\n0::/\n")
    write(tmp_path, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    write(tmp_path, "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n")
    write(tmp_path, "/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
    write(tmp_path, "/sys/fs/cgroup/memory.max", "max\n")
    facts = gather(tmp_path, os_name="Linux")
    assert facts["cpu"]["cgroup_quota_cores"] is None
    assert facts["cpu"]["usable_cores"] == 3
    assert facts["memory"]["cgroup_limit_bytes"] is None


def test_count_cpu_list() -> None:
    assert count_cpu_list("0-3,8-11\n") == 8
    assert count_cpu_list("5") == 1
    assert count_cpu_list("") is None
    assert count_cpu_list("ff") is None


def test_os_release_meminfo_and_kernel(tmp_path: Path) -> None:
    write(
        tmp_path,
        "/etc/os-release",
        'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\n',
    )
    write(tmp_path, "/proc/sys/kernel/osrelease", "5.15.0-105-generic\n")
    write(tmp_path, "/proc/meminfo", "MemTotal:       65536000 kB\nMemAvailable:   1024 kB\n")
    facts = gather(tmp_path, os_name="Linux")
    assert facts["os"] == {
        "name": "Linux",
        "distribution": "Ubuntu 22.04.4 LTS",
        "distribution_id": "ubuntu",
        "distribution_version": "22.04",
        "kernel": "5.15.0-105-generic",
        "macos_version": None,
    }
    assert facts["memory"]["total_bytes"] == 65536000 * 1024
    assert facts["memory"]["available_bytes"] == 1024 * 1024


def test_empty_root_never_raises_and_says_why_for_each_gap(tmp_path: Path) -> None:
    facts = gather(tmp_path, os_name="Linux", machine="x86_64")
    errors = facts["errors"]
    assert facts["os"]["distribution"] is None
    assert "os-release" in errors["os.distribution"]
    assert errors["cpu"] == "/proc/cpuinfo does not exist"
    assert errors["memory"] == "/proc/meminfo does not exist"
    assert facts["shm"] is None and errors["shm"].startswith("/dev/shm:")
    # glibc answers only to the running process, which a fake root is not.
    assert facts["libc"] is None and "running process" in errors["libc"]
    assert facts["wsl"] == {"is_wsl": False, "version": None}
    assert facts["container"]["kind"] is None and facts["container"]["evidence"] is None


def test_a_bug_in_one_reader_costs_only_its_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> dict[str, Any]:
        raise ValueError("unexpected cpuinfo layout")

    monkeypatch.setattr(system_module, "parse_cpuinfo", broken)
    write(tmp_path, "/proc/cpuinfo", cpuinfo(CORE2, 1))
    write(tmp_path, "/proc/meminfo", "MemTotal: 1024 kB\nMemAvailable: 512 kB\n")
    facts = gather(tmp_path, os_name="Linux")
    assert facts["errors"]["cpu"].startswith("internal error: ValueError")
    assert facts["memory"]["total_bytes"] == 1 << 20


def test_shm_size_is_read_from_the_filesystem(tmp_path: Path) -> None:
    (tmp_path / "dev" / "shm").mkdir(parents=True)
    shm = gather(tmp_path, os_name="Linux")["shm"]
    expected = os.statvfs(tmp_path / "dev" / "shm")
    assert shm["path"] == "/dev/shm"
    assert shm["total_bytes"] == expected.f_blocks * expected.f_frsize > 0


@pytest.mark.parametrize(
    ("osrelease", "proc_version", "expected"),
    [
        (
            "5.15.153.1-microsoft-standard-WSL2",
            "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@1b2c3d) (gcc (GCC) 11.2.0)",
            {"is_wsl": True, "version": 2},
        ),
        (
            "4.19.128-microsoft-standard",
            "Linux version 4.19.128-microsoft-standard (oe-user@oe-host) (gcc version 8.2.0)",
            {"is_wsl": True, "version": 2},
        ),
        (
            "4.4.0-19041-Microsoft",
            "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0)",
            {"is_wsl": True, "version": 1},
        ),
        (
            "6.1.0-21-amd64",
            "Linux version 6.1.0-21-amd64 (debian-kernel@lists.debian.org) (gcc-12 12.2.0)",
            {"is_wsl": False, "version": None},
        ),
    ],
)
def test_wsl_from_kernel_strings(
    tmp_path: Path, osrelease: str, proc_version: str, expected: dict[str, Any]
) -> None:
    write(tmp_path, "/proc/sys/kernel/osrelease", osrelease + "\n")
    write(tmp_path, "/proc/version", proc_version + "\n")
    assert gather(tmp_path, os_name="Linux")["wsl"] == expected


@pytest.mark.parametrize(
    ("files", "env", "kind", "evidence"),
    [
        ({"/.dockerenv": ""}, {}, "docker", "/.dockerenv exists"),
        (
            {"/run/.containerenv": 'engine="podman-4.9"\n'},
            {},
            "podman",
            "/run/.containerenv exists",
        ),
        (
            {"/.dockerenv": ""},
            {"KUBERNETES_SERVICE_HOST": "10.96.0.1"},
            "kubernetes",
            "KUBERNETES_SERVICE_HOST is set",
        ),
        (
            {"/proc/1/cgroup": "12:cpu,cpuacct:/kubepods/besteffort/pod1/abc\n"},
            {},
            "kubernetes",
            "/proc/1/cgroup mentions kubepods",
        ),
        (
            {"/proc/1/cgroup": "0::/system.slice/docker-0123abcd.scope\n"},
            {},
            "docker",
            "/proc/1/cgroup mentions docker",
        ),
        (
            {"/proc/1/environ": "PATH=/sbin:/bin\0container=lxc\0TERM=linux\0"},
            {},
            "lxc",
            "/proc/1/environ has container=lxc",
        ),
        ({"/proc/1/cgroup": "0::/init.scope\n"}, {}, None, None),
    ],
)
def test_container_detection(
    tmp_path: Path, files: dict[str, str], env: dict[str, str], kind: str, evidence: str
) -> None:
    for path, text in files.items():
        write(tmp_path, path, text)
    facts = gather(tmp_path, env={"PATH": "", **env}, os_name="Linux")
    assert (facts["container"]["kind"], facts["container"]["evidence"]) == (kind, evidence)


def test_musl_version_comes_from_its_loader(tmp_path: Path) -> None:
    script(
        tmp_path,
        "/lib/ld-musl-x86_64.so.1",
        'echo "musl libc (x86_64)" >&2\necho "Version 1.2.5" >&2\nexit 1\n',
    )
    facts = gather(tmp_path, os_name="Linux")
    assert facts["libc"] == {"name": "musl", "version": "1.2.5"}
    assert "libc" not in facts["errors"]


APPLE_SILICON_SYSCTL = """machdep.cpu.brand_string: Apple M2 Pro
hw.logicalcpu: 12
hw.memsize: 34359738368
kern.osrelease: 23.5.0
hw.optional.arm.FEAT_FP16: 1
hw.optional.arm.FEAT_DotProd: 1
hw.optional.arm.FEAT_FHM: 1
hw.optional.arm.FEAT_BF16: 1
hw.optional.arm.FEAT_I8MM: 1
hw.optional.arm.FEAT_SME: 0
hw.optional.floatingpoint: 1
hw.optional.neon: 1
hw.optional.arm64: 1
"""

INTEL_MAC_SYSCTL = """machdep.cpu.brand_string: Intel(R) Xeon(R) W-3245 CPU @ 3.20GHz
machdep.cpu.vendor: GenuineIntel
hw.logicalcpu: 32
hw.memsize: 103079215104
kern.osrelease: 22.6.0
hw.optional.sse4_1: 1
hw.optional.sse4_2: 1
hw.optional.avx1_0: 1
hw.optional.avx2_0: 1
hw.optional.fma: 1
hw.optional.f16c: 1
hw.optional.avx512f: 1
hw.optional.avx512cd: 1
hw.optional.avx512dq: 1
hw.optional.avx512bw: 1
hw.optional.avx512vl: 1
"""


def fake_macos(tmp_path: Path, sysctl_out: str, version: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    # Like the real one on Apple silicon, which has no machdep.cpu.vendor: it prints what it
    # knows, complains about the rest and exits 1. Builtins only: PATH holds just bin_dir.
    script(
        bin_dir,
        "sysctl",
        f"printf '%s' '{sysctl_out}'\necho \"sysctl: unknown oid 'x'\" >&2\nexit 1\n",
    )
    script(bin_dir, "sw_vers", f'[ "$1" = -productVersion ] && echo {version}\n')
    return {"PATH": str(bin_dir)}


def test_macos_on_apple_silicon(tmp_path: Path) -> None:
    env = fake_macos(tmp_path, APPLE_SILICON_SYSCTL, "14.5")
    facts = gather(tmp_path, env=env, os_name="Darwin", machine="arm64")
    assert facts["os"]["macos_version"] == "14.5"
    assert facts["os"]["kernel"] == "23.5.0"
    assert facts["cpu"] == {
        "model": "Apple M2 Pro",
        "vendor": "Apple",
        "logical_cores": 12,
        "usable_cores": 12,
        "cgroup_quota_cores": None,
        "flags": ["asimd", "asimddp", "asimdfhm", "asimdhp", "bf16", "i8mm"],
        "flags_source": "sysctl",
    }
    assert facts["memory"]["total_bytes"] == 32 << 30
    assert facts["libc"] is None and facts["shm"] is None
    assert "cpu" not in facts["errors"]


def test_macos_on_intel_reads_avx512_from_hw_optional(tmp_path: Path) -> None:
    env = fake_macos(tmp_path, INTEL_MAC_SYSCTL, "13.6.7")
    cpu = gather(tmp_path, env=env, os_name="Darwin", machine="x86_64")["cpu"]
    assert cpu["vendor"] == "GenuineIntel"
    assert cpu["flags"] == [
        "avx",
        "avx2",
        "avx512bw",
        "avx512cd",
        "avx512dq",
        "avx512f",
        "avx512vl",
        "f16c",
        "fma",
        "sse4_1",
        "sse4_2",
    ]


def test_macos_without_sysctl_or_sw_vers(tmp_path: Path) -> None:
    facts = gather(tmp_path, env={"PATH": str(tmp_path)}, os_name="Darwin", machine="arm64")
    assert facts["errors"]["cpu"] == "sysctl not found"
    assert facts["errors"]["os.macos_version"] == "sw_vers not found"
    assert facts["cpu"]["flags"] is None and facts["cpu"]["model"] is None


def real_machine_is_the_dev_box() -> bool:
    # The exact facts below describe the CPU-only development container; a GPU machine running
    # this suite has an NVIDIA driver, and gets only the cross-checks in the next test.
    return platform.system() == "Linux" and not Path("/proc/driver/nvidia").exists()


@pytest.mark.skipif(not real_machine_is_the_dev_box(), reason="exact facts of the dev box")
def test_real_machine_debian12_x86_64_two_cores() -> None:
    facts = gather_system(Host())
    jsonschema.validate(facts, SCHEMA)
    assert facts["os"]["name"] == "Linux"
    assert facts["os"]["distribution_id"] == "debian"
    assert facts["os"]["distribution_version"] == "12"
    assert facts["architecture"] == "x86_64"
    assert facts["libc"] == {"name": "glibc", "version": "2.36"}
    assert facts["cpu"]["logical_cores"] == 2
    assert facts["cpu"]["usable_cores"] == 2
    assert {"avx", "avx2", "fma"} <= set(facts["cpu"]["flags"])
    assert 22 << 30 < facts["memory"]["total_bytes"] < 26 << 30
    assert facts["wsl"] == {"is_wsl": False, "version": None}
    assert facts["errors"] == {}


@pytest.mark.skipif(platform.system() != "Linux", reason="Linux readers")
def test_real_machine_agrees_with_independent_sources() -> None:
    # Speed is measured in benchmarks/, never asserted here: this machine is shared and noisy.
    facts = gather_system(Host())
    jsonschema.validate(facts, SCHEMA)
    assert facts["architecture"] == platform.machine()
    assert facts["cpu"]["logical_cores"] == os.cpu_count()
    assert facts["cpu"]["usable_cores"] <= len(os.sched_getaffinity(0))
    assert facts["os"]["kernel"] == platform.release()
    assert facts["shm"]["total_bytes"] > 0
    name = socket.gethostname()
    if len(name) >= 4:  # the host name is never recorded
        assert name not in json.dumps(facts)
