"""Extension libraries on top of the real torch, built as real packages in a temporary site dir.

Each has a .dist-info (METADATA, RECORD: dldoctor's static facts list it as an installed
extension and read its compiled modules) and a module that does what broken installations do:
flash-attn's compiled module (a real Python C extension, built here with gcc against the
installed torch's libc10.so) imports a c10 symbol this torch lacks, so its import fails with
the dynamic loader's own "undefined symbol: _ZN3c10..."; others hang, segfault, kill their own
process group, or print megabytes of escape sequences. torchvision (not installed here) is a
Python package whose NMS is computed with real torch ops (``nms_ok``) or wrongly.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

# c10::cuda::SetDevice(int): exported by a CUDA torch's libc10_cuda.so, by no CPU torch library.
MISSING_SYMBOL = "_ZN3c104cuda9SetDeviceEi"
EXTENSION_C = """\
#include <Python.h>
int %(symbol)s(int device);  /* a torch C++ function, by its mangled name */
static PyObject *set_device(PyObject *self, PyObject *arg) {
    return PyLong_FromLong(%(symbol)s((int)PyLong_AsLong(arg)));
}
static PyMethodDef methods[] = {{"set_device", set_device, METH_O, ""}, {0}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "%(name)s", "", -1, methods};
PyMODINIT_FUNC PyInit_%(name)s(void) { return PyModule_Create(&module); }
"""
HANG = "import time\ntime.sleep(3600)  # an import that never returns\n"
SEGFAULT = "import ctypes\nctypes.string_at(0)  # SIGSEGV in native code, as a broken .so gives\n"
# A launcher tearing down "its" workers: the whole process group the import runs in.
KILL_GROUP = "import os, signal\nos.killpg(0, signal.SIGKILL)\n"
ESCAPES = "\\x1b[31m\\x1b]0;pwned\\x07\\x1b[2J\\r"
# Megabytes on both streams (and a fake result on stdout), then a failure with escapes in it.
FLOOD = f"""\
import os, sys
line = "{ESCAPES}loading libsox " + "x" * 200 + "\\n"
for _ in range(12000):
    sys.stdout.write(line)
    sys.stderr.write(line)
print('{{"type": "end", "framework": "torchaudio"}}')
raise RuntimeError("{ESCAPES}torchaudio: libsox setup failed")
"""
NMS_OK = '''\
import torch


def nms(boxes, scores, iou_threshold):
    """Greedy NMS with real torch ops (what torchvision's C++ kernel computes)."""
    order = torch.argsort(scores, descending=True)
    keep = []
    while order.numel():
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        x1 = torch.maximum(boxes[i, 0], boxes[rest, 0])
        y1 = torch.maximum(boxes[i, 1], boxes[rest, 1])
        x2 = torch.minimum(boxes[i, 2], boxes[rest, 2])
        y2 = torch.minimum(boxes[i, 3], boxes[rest, 3])
        inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        iou = inter / (area(boxes[i]) + area(boxes[rest]) - inter)
        order = rest[iou <= iou_threshold]
    return torch.tensor(keep, dtype=torch.int64)
'''
# Overlaps compared with NaN: every other box is suppressed, whatever the threshold.
NMS_WRONG = NMS_OK.replace(".clamp(min=0)", "").replace("iou <= iou_threshold", "iou != iou")


def dist_info(
    site: Path, name: str, version: str, files: list[str] = (), requires: tuple[str, ...] = ()
) -> None:
    """A .dist-info with METADATA and a RECORD listing ``files`` (paths in the site dir)."""
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (folder / "METADATA").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    (folder / "INSTALLER").write_text("pip\n", encoding="utf-8")
    record = [f"{f},," for f in files] + [f"{folder.name}/METADATA,,", f"{folder.name}/RECORD,,"]
    (folder / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")


def package(site: Path, module: str, files: dict[str, str]) -> list[str]:
    folder = site / module
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [f"{module}/{name}" for name in files]


def compiled_module(site: Path, scratch: Path, name: str, torch_lib: Path) -> str:
    """A real CPython extension module linked against torch's libc10.so (DT_NEEDED), calling a
    c10 function that library does not define: dlopen refuses it with "undefined symbol"."""
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc, "gcc is needed to build the fake extension"
    scratch.mkdir(parents=True, exist_ok=True)
    source = scratch / f"{name}.c"
    source.write_text(EXTENSION_C % {"symbol": MISSING_SYMBOL, "name": name}, encoding="utf-8")
    filename = name + str(sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(
        [cc, "-shared", "-fPIC", "-I", sysconfig.get_paths()["include"], "-o", str(site / filename),
         str(source), "-L", str(torch_lib), "-Wl,--no-as-needed", "-lc10"],
        check=True, timeout=120,
    )  # fmt: skip
    return filename


def plain_module(site: Path, scratch: Path, relpath: str) -> str:
    """A compiled module that loads (nothing undefined): a build's ops present, for RECORD."""
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc, "gcc is needed to build the fake extension"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "plain.c").write_text("int dldoctor_plain(void) { return 0; }\n", encoding="utf-8")
    (site / relpath).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [cc, "-shared", "-fPIC", "-o", str(site / relpath), str(scratch / "plain.c")],
        check=True, timeout=120,
    )  # fmt: skip
    return relpath


# A triton that imports: its kernel compile is tried only where torch sees a GPU.
TRITON_OK = "__version__ = '3.7.1'\n\n\ndef jit(fn):\n    return fn\n"


def extension_site(
    site: Path, scratch: Path, torch_lib: Path, nms: str = NMS_WRONG, triton: str = SEGFAULT
) -> Path:
    """flash-attn: undefined c10 symbol; torch-geometric: hangs; torchaudio: floods stdout and
    stderr, then fails; triton: segfaults; deepspeed: kills its own process group; torchvision:
    imports, its NMS is ``nms``. (The hostile ones are extensions whose compiled code is not
    required, so no static finding explains them away.)"""
    site.mkdir(parents=True, exist_ok=True)
    so = compiled_module(site, scratch, "flash_attn_2_cuda", torch_lib)
    files = package(site, "flash_attn", {"__init__.py": "import flash_attn_2_cuda\n"})
    dist_info(site, "flash-attn", "2.7.4", [so, *files])
    hang = package(site, "torch_geometric", {"__init__.py": HANG})
    dist_info(site, "torch-geometric", "2.7.0", hang)
    flood = package(site, "torchaudio", {"__init__.py": FLOOD})
    dist_info(site, "torchaudio", "2.13.0", flood)
    files = package(site, "triton", {"__init__.py": triton, "language.py": "constexpr = int\n"})
    dist_info(site, "triton", "3.7.0", files)
    dist_info(site, "deepspeed", "0.18.0", package(site, "deepspeed", {"__init__.py": KILL_GROUP}))
    vision = {"__init__.py": "__version__ = '0.28.0'\nfrom torchvision import ops\n", "ops.py": nms}
    files = package(site, "torchvision", vision)
    so = plain_module(site, scratch, "torchvision/_C" + str(sysconfig.get_config_var("EXT_SUFFIX")))
    dist_info(site, "torchvision", "0.28.0", [*files, so])
    return site
