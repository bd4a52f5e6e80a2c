"""Driver floors at their edges: DD501 on Linux and Windows for every CUDA release the matrix
lists, the JAX plugins' own floors, and the driver DD101/DD104 ask for, all read from the rows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from dldoctor.checks import compat_driver, driver
from dldoctor.checks.registry import NotApplicable
from dldoctor.facts import queries as q
from dldoctor.facts.known import Unknown
from dldoctor.fixes.driver import install_driver
from dldoctor.matrix import DriverFloor, load
from dldoctor.matrix.rules import driver_runs
from dldoctor.model import Severity
from tests.checks.bounds import above, around, below, jax_plugin, machine, torch, windows, wsl
from tests.checks.scenarios import make_facts

MATRIX = load()
OSES = ("linux", "windows", "wsl")
COLUMN = {"linux": "linux", "windows": "windows", "wsl": "windows"}  # WSL: the host's driver


def floors(cuda: str, os: str) -> tuple[str | None, str | None]:
    """(full-compatibility floor, minor-version-compatibility floor) the matrix gives on ``os``."""
    full = MATRIX.toolkit_floor(cuda)
    major = MATRIX.major_floor(cuda)
    column = COLUMN[os]
    return (getattr(full, column) if full else None, getattr(major, column) if major else None)


def expected(driver_version: str, full: str | None, mvc: str | None) -> Severity | None:
    """The rule: at or above the release's own floor, healthy; from the major's first driver up
    to it, minor-version compatibility (a warning); below both, CUDA does not start."""
    version = Version(driver_version)
    if full is None and mvc is None:
        return None  # no floor known for this OS: nothing judged
    if full and version >= Version(full):
        return None
    if mvc and version >= Version(mvc):
        return Severity.WARNING
    return Severity.ERROR


def judge(driver_version: str, cuda: str, os: str):
    tag = "cu" + cuda.replace(".", "")
    facts = make_facts(
        torch(f"2.13.0+{tag}", cuda),
        machine(driver_version, None),
        *({"windows": [windows()], "wsl": [wsl()]}.get(os, [])),
    )
    return compat_driver.driver_too_old(facts, MATRIX)


def candidates(full: str | None, mvc: str | None) -> list[str]:
    return sorted({d for f in (full, mvc) if f for d in around(f)}, key=Version)


ROWS = [(t.cuda, os) for t in MATRIX.cuda_toolkits for os in OSES]


@pytest.mark.parametrize(("cuda", "os"), ROWS, ids=[f"cuda{c}-{o}" for c, o in ROWS])
def test_dd501_follows_each_releases_floors_at_below_and_above_them(cuda, os):
    full, mvc = floors(cuda, os)
    for version in candidates(full, mvc):
        verdicts = judge(version, cuda, os)
        want = expected(version, full, mvc)
        assert [v.severity for v in verdicts] == ([want] if want else []), (version, full, mvc)
        for verdict in verdicts:
            assert f"river {version} " in verdict.title  # as the driver wrote it
            assert verdict.evidence["driver"] == version
            assert verdict.evidence["driver_needed"] == full
            assert verdict.evidence["driver_needed_mvc"] == mvc


def test_windows_rows_are_not_linux_rows():
    """On Windows a driver between the Linux and the Windows floor is still too old."""
    differing = [t for t in MATRIX.cuda_toolkits if t.linux and t.windows and t.windows != t.linux]
    assert differing, "the matrix has Windows floors of their own"
    for row in differing:
        low, high = sorted((row.linux, row.windows), key=Version)
        between = above(low)
        assert Version(between) < Version(high)
        on_windows = expected(between, *floors(row.cuda, "windows"))
        on_linux = expected(between, *floors(row.cuda, "linux"))
        assert [v.severity for v in judge(between, row.cuda, "windows")] == (
            [on_windows] if on_windows else []
        )
        assert [v.severity for v in judge(between, row.cuda, "linux")] == (
            [on_linux] if on_linux else []
        )


drivers = st.builds(
    lambda a, b, c: f"{a}.{b:02d}.{c:02d}",
    st.integers(300, 700),
    st.integers(0, 120),
    st.integers(0, 99),
)


@settings(max_examples=150, deadline=None)
@given(
    version=drivers,
    cuda=st.sampled_from([t.cuda for t in MATRIX.cuda_toolkits]),
    os=st.sampled_from(OSES),
)
def test_dd501_property_any_driver_against_any_release(version, cuda, os):
    full, mvc = floors(cuda, os)
    want = expected(version, full, mvc)
    assert [v.severity for v in judge(version, cuda, os)] == ([want] if want else [])


def test_dd501_shows_the_driver_exactly_as_written():
    """ "580.82.07" parsed and printed again would read "580.82.7"."""
    full, mvc = floors("13.2", "linux")
    assert full and mvc and Version(mvc) <= Version("580.82.07") < Version(full)
    (verdict,) = judge("580.82.07", "13.2", "linux")
    assert verdict.title == (
        "PyTorch 2.13.0+cu132 is built with CUDA 13.2; driver 580.82.07 runs it only under "
        f"minor-version compatibility (CUDA 13.2 wants {full} or newer)"
    )
    assert verdict.evidence["driver"] == "580.82.07"
    assert verdict.detail == (  # what minor-version compatibility leaves out
        "PTX JIT compilation of code built with the newer toolkit fails on the older driver."
    )
    (error,) = judge("470.82.01", "12.8", "linux")
    need = floors("12.8", "linux")[0]
    assert error.title == (
        f"Driver 470.82.01 is too old for PyTorch 2.13.0+cu128 (built with CUDA 12.8, needs driver "
        f"{need} or newer): CUDA will not initialise"
    )


def jax_floor(major: str) -> str:
    return next(p for p in MATRIX.tables["jax"]["plugin"] if p["cuda"] == major)["min_driver_linux"]


@pytest.mark.parametrize("major", [p["cuda"] for p in MATRIX.tables["jax"]["plugin"]])
def test_each_jax_plugin_uses_its_own_floor_at_below_and_above(major):
    floor = jax_floor(major)
    for version in around(floor):
        facts = make_facts(jax_plugin(major), machine(version, None))
        verdicts = compat_driver.driver_too_old(facts, MATRIX)
        too_old = Version(version) < Version(floor)
        assert [v.severity for v in verdicts] == ([Severity.ERROR] if too_old else []), version
        assert all(v.evidence["matrix_row"] == f"jax.toml plugin cuda{major}" for v in verdicts)


@pytest.mark.parametrize("host", [windows, wsl])
def test_jax_plugins_state_no_windows_floor_so_windows_is_not_judged(host):
    facts = make_facts(jax_plugin("13"), machine(below(jax_floor("13")), None), host())
    assert compat_driver.driver_too_old(facts, MATRIX) == []


def test_every_framework_build_is_judged_not_only_the_first():
    """torch and a JAX plugin side by side: both too old, two verdicts."""
    from tests.checks.scenarios import merge

    both = merge(torch("2.13.0+cu130", "13.0"), jax_plugin("13"))
    both["packages"]["distributions"] = (
        torch("2.13.0+cu130", "13.0")["packages"]["distributions"]
        + jax_plugin("13")["packages"]["distributions"]
    )
    facts = make_facts(both, machine(below(jax_floor("13")), None))
    verdicts = compat_driver.driver_too_old(facts, MATRIX)
    assert sorted(v.evidence["framework"] for v in verdicts) == ["jax", "torch"]


# DD101 / DD104: the driver asked for is the highest floor of every installed toolkit


def toolkit_machine(*versions: str) -> dict:
    return {
        "cuda": {"toolkits": [{"version": v, "path": f"/usr/local/cuda-{v}"} for v in versions]}
    }


def highest_floor(*versions: str) -> DriverFloor:
    rows = [MATRIX.toolkit_floor(v) for v in versions]
    return max((r for r in rows if r and r.linux), key=lambda r: Version(str(r.linux)))


@pytest.mark.parametrize(
    "toolkits", [("11.8.0",), ("13.0.88", "11.8.0"), ("12.4.1", "13.0.2", "12.8.0")]
)
def test_dd101_and_dd104_ask_for_the_highest_floor_of_all_toolkits(toolkits):
    row = highest_floor(*toolkits)
    (dd101,) = driver.toolkit_without_driver(make_facts(toolkit_machine(*toolkits)), MATRIX)
    assert dd101.evidence["driver_needed"] == row.linux
    assert dd101.evidence["matrix_row"] == f"cuda_drivers.toml CUDA {row.cuda}"
    pci = {"accelerators": {"pci": {"nvidia": [{"slot": "0000:01:00.0", "driver": None}]}}}
    (dd104,) = driver.gpu_without_driver(make_facts(toolkit_machine(*toolkits), pci), MATRIX)
    assert dd104.evidence["driver_needed"] == row.linux


@pytest.mark.parametrize("os", ("linux", "windows"))
def test_driver_runs_reads_the_floor_of_the_os_asked(os):
    for row in MATRIX.cuda_toolkits:
        floor = getattr(row, os)
        if not floor:
            assert driver_runs(MATRIX, "999.0", row.cuda, windows=os == "windows") is None
            continue
        for version in around(floor):
            runs = driver_runs(MATRIX, version, row.cuda, windows=os == "windows")
            assert runs is (Version(version) >= Version(floor)), (row.cuda, os, version)
    assert driver_runs(MATRIX, None, "12.8") is None
    assert driver_runs(MATRIX, "not a version", "12.8") is None


def test_driver_runs_defaults_to_linux_and_knows_no_unknown_release():
    row = next(t for t in MATRIX.cuda_toolkits if t.linux and t.windows and t.windows != t.linux)
    low = min(row.linux, row.windows, key=Version)
    assert driver_runs(MATRIX, low, row.cuda) is (Version(low) >= Version(row.linux))
    assert driver_runs(MATRIX, "999.99", "99.9") is None  # no such CUDA release in the matrix


def test_dd101_in_wsl_asks_for_the_windows_hosts_driver():
    """In WSL the driver is the Windows host's: the floor asked for is the Windows column."""
    row = MATRIX.toolkit_floor("12.4.1")
    assert row and row.windows and row.windows != row.linux
    facts = make_facts(toolkit_machine("12.4.1"), wsl())
    (dd101,) = driver.toolkit_without_driver(facts, MATRIX)
    assert dd101.evidence["driver_needed"] == row.windows
    (native,) = driver.toolkit_without_driver(make_facts(toolkit_machine("12.4.1")), MATRIX)
    assert native.evidence["driver_needed"] == row.linux


@pytest.mark.parametrize("kind", ["docker", "podman", None])
def test_dd101_in_a_container_says_how_the_hosts_gpu_gets_in_not_to_install_a_driver(kind):
    """A container gets the host's driver with its GPU (`--gpus all`): no driver is installed
    inside it, and the advice holds only if the host has a GPU (none is seen here)."""
    container = {
        "system": {"container": {"kind": kind, "evidence": "/.dockerenv" if kind else None}}
    }
    (dd101,) = driver.toolkit_without_driver(
        make_facts(toolkit_machine("13.0.88"), container), MATRIX
    )
    (fix,) = dd101.fixes
    if kind:
        assert fix.summary.startswith(
            "This is a container: if the host has an NVIDIA GPU, the host's NVIDIA driver reaches it"
        )
        assert "--gpus all" in fix.summary and "Do not install a driver" in fix.summary
        assert not fix.commands and not fix.intents
    else:
        assert fix.summary.startswith("Install the NVIDIA driver 580.65.06 or newer")
        assert "only if this machine has a GPU" in fix.summary


def torch_and_tensorflow(torch_cuda: str, tf_cuda: str) -> dict:
    """torch and TensorFlow CUDA builds installed together (one distributions list: a merge of
    two would keep only the last)."""
    tag = "cu" + torch_cuda.replace(".", "")
    both = torch(f"2.13.0+{tag}", torch_cuda)
    both["packages"]["distributions"].append(
        {"name": "tensorflow", "version": "2.21.0", "location": "/env/lib/python3.11/site-packages"}
    )
    both["packages"]["frameworks"]["tensorflow"] = {
        "distributions": [{"name": "tensorflow", "version": "2.21.0"}],
        "build": {"is_cuda_build": True, "cuda_version": tf_cuda},
    }
    return both


def test_dd501_judges_every_build_after_a_healthy_one_a_warned_one_and_an_unknown_one():
    driver = "530.30.02"  # CUDA 12.1's own floor: 12.6 and 12.8 run under MVC only
    assert expected(driver, *floors("12.0", "linux")) is None
    assert expected(driver, *floors("12.6", "linux")) is Severity.WARNING
    # healthy, warned, a CUDA with no row, only a major (its MVC floor met: nothing to say)
    for torch_cuda in ("12.0", "12.6", "99.9", "12"):
        facts = make_facts(torch_and_tensorflow(torch_cuda, "12.8"), machine(driver, None))
        verdicts = compat_driver.driver_too_old(facts, MATRIX)
        assert "tensorflow" in [v.evidence["framework"] for v in verdicts], torch_cuda


def test_dd501_evidence_and_fixes_as_the_rule_reads_them():
    full, mvc = floors("13.2", "linux")
    facts = make_facts(torch("2.13.0+cu132", "13.2"), machine("580.82.07", None))
    (warning,) = compat_driver.driver_too_old(facts, MATRIX)
    assert warning.evidence == {
        "framework": "torch",
        "distribution": "torch",
        "version": "2.13.0+cu132",
        "built_with_cuda": "13.2",
        "driver": "580.82.07",
        "driver_needed": full,
        "driver_needed_mvc": mvc,
        "matrix_row": warning.evidence["matrix_row"],
    }
    assert warning.fixes == (install_driver(facts, full, "CUDA 13.2 without limits"),)
    need, _ = floors("12.8", "linux")
    old = make_facts(torch("2.13.0+cu128", "12.8"), machine("470.82.01", None))
    (error,) = compat_driver.driver_too_old(old, MATRIX)
    assert error.fixes[0] == install_driver(old, need, "PyTorch's CUDA 12.8 build needs it")


def test_dd501_without_a_driver_is_not_applicable_and_unknown_facts_are_named():
    no_driver = make_facts(torch("2.13.0+cu130", "13.0"))
    no_driver.nvidia["loaded"] = False
    with pytest.raises(NotApplicable, match=r"^no NVIDIA driver loaded$"):
        compat_driver.driver_too_old(no_driver, MATRIX)
    unread = make_facts(torch("2.13.0+cu130", "13.0"), machine("580.65.06", None))
    unread.nvidia.update(driver_version=None, proc_driver={"version": None})
    unread.nvidia["nvml"]["status"] = None  # whether a driver is loaded is unknown too
    with pytest.raises(Unknown) as raised:
        compat_driver.driver_too_old(unread, MATRIX)
    assert raised.value.path == q.DRIVER_FACTS
    unread.nvidia["nvml"]["status"] = "unknown_error"  # NVML reached a driver: one is loaded
    with pytest.raises(Unknown) as raised:
        compat_driver.driver_too_old(unread, MATRIX)
    assert raised.value.path == "nvidia.driver_version"


def test_dd502_fix_says_where_the_driver_comes_from():
    facts = make_facts(
        {"system": {"wsl": {"is_wsl": True, "version": 2}}},
        {"nvidia": {"libcuda": {"wsl_libcuda": False, "paths": []}}},
    )
    (verdict,) = compat_driver.wsl_without_libcuda(facts, MATRIX)
    assert verdict.fixes[0].summary == (
        "Install or update the NVIDIA driver on Windows (it brings WSL's libcuda), then "
        "update WSL from a Windows prompt."
    )


def test_dd501_says_nothing_of_a_pre_plugin_jaxlib_whose_cuda_has_no_plugin_row():
    """jaxlib 0.4.7+cuda11.cudnn86 was the CUDA build itself; jax.toml states floors only for
    its plugins' CUDA majors, so no floor is known and nothing is judged (not a crash)."""
    version = "0.4.7+cuda11.cudnn86"
    jax = {
        "packages": {
            "distributions": [
                {
                    "name": "jaxlib",
                    "version": version,
                    "location": "/env/lib/python3.11/site-packages",
                }
            ],
            "frameworks": {"jax": {"distributions": [{"name": "jaxlib", "version": version}]}},
        }
    }
    assert not [p for p in MATRIX.tables["jax"]["plugin"] if p["cuda"] == "11"]
    facts = make_facts(jax, machine("470.82.01", None))
    assert compat_driver.driver_too_old(facts, MATRIX) == []
