"""Extension build facts from recorded dist-info trees and gcc-built modules with known DT_NEEDED."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from dldoctor.facts.extensions import cuda_of_digits, gather_extensions, parse_label
from dldoctor.facts.host import Host
from dldoctor.facts.torchlinks import torch_abi
from tests.fakes.elf import shared_object

SITE = "/env/lib/python3.11/site-packages"
# A c10 function taking std::string, as the new C++ ABI mangles it (std::__cxx11::basic_string).
CXX11_SYMBOL = (
    "_ZN3c106detail14torchCheckFailEPKcS2_jRKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE"
)
OLD_ABI_SYMBOL = "_ZN3c106detail14torchCheckFailEPKcS2_jRKSs"


def dist_info(
    root: Path,
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    files: tuple[str, ...] = (),
    direct_url: dict[str, Any] | str | None = None,
    tag: str = "cp311-cp311-manylinux_2_28_x86_64",
) -> dict[str, Any]:
    """A .dist-info as pip writes it (METADATA, RECORD, WHEEL); its distributions record."""
    meta = root / SITE.lstrip("/") / f"{name.replace('-', '_')}-{version}.dist-info"
    meta.mkdir(parents=True, exist_ok=True)
    lines = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (meta / "METADATA").write_text("\n".join(lines) + "\n\nlong description\n")
    record = [f"{f},sha256=x,1" for f in files] + [f"{meta.name}/RECORD,,"]
    (meta / "RECORD").write_text("\n".join(record) + "\n")
    (meta / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
    if direct_url is not None:
        text = direct_url if isinstance(direct_url, str) else json.dumps(direct_url)
        (meta / "direct_url.json").write_text(text)
    return {"name": name, "version": version, "location": SITE, "requires": list(requires)}


def stub(root: Path, soname: str, defines: tuple[str, ...] = ()) -> Path:
    return shared_object(root / "stubs" / soname, soname=soname, defines=defines)


def module(root: Path, relpath: str, links: tuple[Path, ...], calls: tuple[str, ...] = ()) -> str:
    shared_object(root / SITE.lstrip("/") / relpath, links=links, calls=calls)
    return relpath


def gather(root: Path, matrix, *dists: dict[str, Any]) -> dict[str, Any]:
    table = matrix.tables["extensions"]
    return gather_extensions(
        Host(root=root, env={}), list(dists), table["extension"], table["label"]
    )


def only(section: dict[str, Any]) -> dict[str, Any]:
    (item,) = section["installed"]
    return item


@pytest.mark.parametrize(
    ("digits", "version"),
    [("12", "12"), ("13", "13"), ("11", "11"), ("92", "9.2"), ("102", "10.2"), ("118", "11.8"),
     ("121", "12.1"), ("130", "13.0")],
)  # fmt: skip
def test_cuda_digits_of_a_label(digits, version):
    assert cuda_of_digits(digits) == version


@pytest.mark.parametrize(
    ("label", "said"),
    [
        ("cu12torch2.6cxx11abiFALSE", {"cuda": "12", "torch": "2.6", "cxx11_abi": False}),
        ("cu118torch2.1cxx11abiTRUE", {"cuda": "11.8", "torch": "2.1", "cxx11_abi": True}),
        ("pt21cu121", {"torch": "2.1", "cuda": "12.1"}),
        ("pt113cu117", {"torch": "1.13", "cuda": "11.7"}),
        ("pt210cu128", {"torch": "2.10", "cuda": "12.8"}),
        ("pt23cpu", {"torch": "2.3", "cuda": False}),
        ("cu130", {"cuda": "13.0"}),
        ("cpu", {"cuda": False}),
        ("rocm6.4", {"rocm": "6.4", "cuda": False}),
        ("git1234abc", None),
    ],
)
def test_local_labels_read_by_the_matrix_rules(matrix, label, said):
    assert parse_label(label, matrix.tables["extensions"]["label"]) == said


def test_flash_attn_release_wheel_label_comes_from_direct_url_and_cuda_from_its_module(
    tmp_path, matrix
):
    cudart, c10 = stub(tmp_path, "libcudart.so.12"), stub(tmp_path, "libc10.so")
    so = module(tmp_path, "flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so", (c10, cudart))
    wheel = "flash_attn-2.7.4.post1+cu12torch2.6cxx11abiFALSE-cp311-cp311-linux_x86_64.whl"
    record = dist_info(
        tmp_path, "flash_attn", "2.7.4.post1", requires=("torch", "einops"),
        files=(so, "flash_attn/__init__.py"),
        direct_url={"url": f"https://user:secret@example.org/v2.7.4.post1/{wheel}?t=1",
                    "archive_info": {"hashes": {}}},
        tag="cp311-cp311-linux_x86_64",
    )  # fmt: skip
    item = only(gather(tmp_path, matrix, record))
    assert item["key"] == "flash-attn"
    assert item["local_label"] == "cu12torch2.6cxx11abiFALSE"
    assert item["label_source"] == "direct_url.json"
    assert item["origin"] == {"kind": "archive", "file": wheel}  # no URL, no credentials
    assert "secret" not in json.dumps(item)
    assert item["built_for"] == {"torch": "2.6", "cuda": "12", "rocm": None, "cxx11_abi": False}
    assert item["torch_requirement"] == "torch"
    (mod,) = item["modules"]
    assert mod["cuda_major"] == 12 and mod["links_torch"] is True
    assert mod["needed"][:2] == ["libc10.so", "libcudart.so.12"]
    assert item["missing_modules"] == [] and item["wheel_tags"] == ["cp311-cp311-linux_x86_64"]


def test_xformers_exact_torch_pin_from_its_index_metadata(tmp_path, matrix):
    # Requires-Dist as the package index serves xformers 0.0.28.post3's METADATA.
    record = dist_info(tmp_path, "xformers", "0.0.28.post3", requires=("numpy", "torch==2.5.1"))
    item = only(gather(tmp_path, matrix, record))
    assert item["built_for"]["torch"] == "2.5.1"
    assert item["evidence"] == ["Requires-Dist torch==2.5.1"]
    assert item["modules"] == [] and item["missing_modules"] == ["xformers/_C*.so"]


def test_torchvision_pin_in_parentheses_and_cuda_13_from_dt_needed(tmp_path, matrix):
    libs = tuple(stub(tmp_path, n) for n in ("libc10.so", "libc10_cuda.so", "libcudart.so.13"))
    so = module(tmp_path, "torchvision/_C.so", libs)
    record = dist_info(
        tmp_path, "torchvision", "0.28.0", requires=("torch (==2.13.0)",), files=(so,)
    )
    item = only(gather(tmp_path, matrix, record))
    assert item["built_for"]["torch"] == "2.13.0"
    assert item["built_for"]["cuda"] == "13"
    assert item["local_label"] is False and item["origin"] is False


def test_a_module_linking_torch_but_no_cuda_library_is_a_cpu_build(tmp_path, matrix):
    so = module(tmp_path, "torchvision/_C.so", (stub(tmp_path, "libc10.so"),))
    item = only(gather(tmp_path, matrix, dist_info(tmp_path, "torchvision", "0.28.0", files=(so,))))
    assert item["modules"][0]["cuda_major"] is False
    assert item["built_for"]["cuda"] is False


def test_auditwheel_renamed_cudart_still_names_the_cuda_major(tmp_path, matrix):
    renamed = stub(tmp_path, "libcudart.faf08d9a.so.13")
    so = module(tmp_path, "torchvision/_C.so", (stub(tmp_path, "libc10.so"), renamed))
    item = only(gather(tmp_path, matrix, dist_info(tmp_path, "torchvision", "0.28.0", files=(so,))))
    assert item["built_for"]["cuda"] == "13"


def test_pyg_label_in_the_version(tmp_path, matrix):
    record = dist_info(tmp_path, "torch_scatter", "2.1.2+pt21cu121")
    item = only(gather(tmp_path, matrix, record))
    assert item["key"] == "torch-scatter"
    assert item["built_for"]["torch"] == "2.1" and item["built_for"]["cuda"] == "12.1"
    assert item["label_source"] == "version"


def test_apex_python_only_build_has_no_compiled_modules(tmp_path, matrix):
    record = dist_info(tmp_path, "apex", "0.1", files=("apex/__init__.py", "apex/amp/__init__.py"))
    item = only(gather(tmp_path, matrix, record))
    assert item["modules"] == []
    assert item["missing_modules"] == ["amp_C*.so", "fused_layer_norm_cuda*.so"]


def test_cxx11_abi_from_the_symbols_a_module_imports(tmp_path, matrix):
    c10 = stub(tmp_path, "libc10.so")
    new = module(tmp_path, "mmcv/_ext.cpython-311-x86_64-linux-gnu.so", (c10,), (CXX11_SYMBOL,))
    item = only(gather(tmp_path, matrix, dist_info(tmp_path, "mmcv", "2.2.0", files=(new,))))
    assert item["built_for"]["cxx11_abi"] is True


def test_old_abi_symbols_claim_nothing_about_the_abi(tmp_path, matrix):
    c10 = stub(tmp_path, "libc10.so")
    old = module(tmp_path, "mmcv/_ext.cpython-311-x86_64-linux-gnu.so", (c10,), (OLD_ABI_SYMBOL,))
    item = only(gather(tmp_path, matrix, dist_info(tmp_path, "mmcv", "2.2.0", files=(old,))))
    assert item["built_for"]["cxx11_abi"] is None  # absence of __cxx11 proves nothing here


def test_tensorrt_cuda_major_from_its_name(tmp_path, matrix):
    item = only(gather(tmp_path, matrix, dist_info(tmp_path, "tensorrt_cu13", "10.13.3.9")))
    assert item["key"] == "tensorrt-cu13" and item["built_for"]["cuda"] == "13"


def test_no_record_leaves_the_modules_unknown_and_a_bad_direct_url_its_kind(tmp_path, matrix):
    record = dist_info(tmp_path, "flash_attn", "2.8.3", direct_url="{not json")
    meta = tmp_path / SITE.lstrip("/") / "flash_attn-2.8.3.dist-info"
    (meta / "RECORD").unlink()
    item = only(gather(tmp_path, matrix, record))
    assert item["modules"] is None and item["missing_modules"] is None
    assert item["origin"] == {"kind": None, "file": None}
    assert item["built_for"] == {"torch": None, "cuda": None, "rocm": None, "cxx11_abi": None}


def test_missing_dist_info_is_an_error_not_a_crash(tmp_path, matrix):
    item = only(gather(tmp_path, matrix, {"name": "vllm", "version": "0.6.4", "location": SITE}))
    assert item["error"] and item["modules"] is None


def test_only_the_first_copy_of_a_name_is_described(tmp_path, matrix):
    first = dist_info(tmp_path, "xformers", "0.0.28.post3", requires=("torch==2.5.1",))
    second = dict(first, version="0.0.20", location="/home/u/.local")
    assert only(gather(tmp_path, matrix, first, second))["version"] == "0.0.28.post3"


def test_torch_abi_of_the_real_torch_installed_here():
    site = sysconfig.get_paths()["purelib"]
    if not Path(site, "torch", "__init__.py").is_file():
        pytest.skip("torch is not installed in this interpreter")
    abi, source = torch_abi(Host(), {"name": "torch", "location": site})
    assert abi is True  # torch 2.7+ wheels: the new ABI, said by a literal
    assert source == "torch/__init__.py compiled_with_cxx11_abi()"


@pytest.mark.parametrize(("symbol", "abi"), [(CXX11_SYMBOL, True), (OLD_ABI_SYMBOL, False)])
def test_torch_abi_of_an_older_torch_from_libc10_symbols(tmp_path, symbol, abi):
    torch = tmp_path / SITE.lstrip("/") / "torch"
    torch.mkdir(parents=True)
    (torch / "__init__.py").write_text(
        "def compiled_with_cxx11_abi():\n    return _C._GLIBCXX_USE_CXX11_ABI\n"
    )
    shared_object(torch / "lib" / "libc10.so", soname="libc10.so", defines=(symbol,))
    assert torch_abi(Host(root=tmp_path, env={}), {"location": SITE}) == (
        abi,
        "torch/lib/libc10.so symbols",
    )


def test_a_direct_url_file_that_is_no_wheel_name_gives_no_label(tmp_path, matrix):
    record = dist_info(
        tmp_path, "flash_attn", "2.8.3", direct_url={"url": "file:///tmp/x+y", "dir_info": {}}
    )
    item = only(gather(tmp_path, matrix, record))
    assert item["local_label"] is False and item["origin"] == {"kind": "directory", "file": "x+y"}


SET_DEVICE = "_ZN3c104cuda9SetDeviceEi"  # c10::cuda::SetDevice(int): flash-attn#931's symbol


def _torch_lib(root: Path, *exported: str, flags: tuple[str, ...] = ()) -> Path:
    return shared_object(
        root / SITE.lstrip("/") / "torch" / "lib" / "libc10.so",
        soname="libc10.so", defines=exported, flags=flags,
    )  # fmt: skip


def _torch_record(root: Path) -> dict[str, Any]:
    (root / SITE.lstrip("/") / "torch").mkdir(parents=True, exist_ok=True)
    return dist_info(root, "torch", "2.2.0")


@pytest.mark.parametrize(
    ("exported", "missing"),
    [((CXX11_SYMBOL, SET_DEVICE), {"count": 0, "examples": []}),
     ((CXX11_SYMBOL,), {"count": 1, "examples": [SET_DEVICE]}),
     ((), {"count": 2, "examples": sorted([CXX11_SYMBOL, SET_DEVICE])})],
)  # fmt: skip
def test_torch_symbols_an_extension_imports_are_looked_up_in_torchs_libraries(
    tmp_path, matrix, exported, missing
):
    c10 = _torch_lib(tmp_path, *exported)
    so = module(tmp_path, "flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so", (c10,), (CXX11_SYMBOL, SET_DEVICE, "puts"))  # fmt: skip
    record = dist_info(tmp_path, "flash_attn", "2.5.8", files=(so,))
    section = gather(tmp_path, matrix, _torch_record(tmp_path), record)
    (item,) = section["installed"]
    assert item["modules"][0]["torch_symbols_missing"] == missing


def test_a_torch_library_without_a_gnu_hash_table_tells_nothing(tmp_path, matrix):
    c10 = _torch_lib(tmp_path, CXX11_SYMBOL, flags=("-Wl,--hash-style=sysv",))
    so = module(
        tmp_path, "flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so", (c10,), (SET_DEVICE,)
    )
    record = dist_info(tmp_path, "flash_attn", "2.5.8", files=(so,))
    (item,) = gather(tmp_path, matrix, _torch_record(tmp_path), record)["installed"]
    assert item["modules"][0]["torch_symbols_missing"] is None
