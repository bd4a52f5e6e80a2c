"""A fake ``libnvidia-ml.so.1`` compiled in the test with the C compiler: the driver's boundary.

The real pynvml loads it (``LD_LIBRARY_PATH``) and calls it, as it would the driver's library.
``behaviour``: "ok" (a driver 580.65.06 / CUDA 13.0 with no GPU), "hang" (``nvmlInit`` blocks
forever, as on a wedged driver) or "segv" (``nvmlInit`` dereferences NULL).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

_SOURCE = r"""
#include <string.h>
#include <unistd.h>

static void behave(void) {
#if defined(HANG)
    for (;;) sleep(1000);
#elif defined(SEGV)
    *(volatile int *)0 = 0;
#endif
}

int nvmlInitWithFlags(unsigned int flags) { (void)flags; behave(); return 0; }
int nvmlInit_v2(void) { behave(); return 0; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int result) { (void)result; return "Unknown Error"; }
int nvmlSystemGetDriverVersion(char *out, unsigned int n) {
    strncpy(out, "580.65.06", n); return 0;
}
int nvmlSystemGetNVMLVersion(char *out, unsigned int n) {
    strncpy(out, "13.580.65.06", n); return 0;
}
int nvmlSystemGetCudaDriverVersion_v2(int *version) { *version = 13000; return 0; }
int nvmlSystemGetCudaDriverVersion(int *version) { *version = 13000; return 0; }
int nvmlDeviceGetCount_v2(unsigned int *count) { *count = 0; return 0; }
"""

BEHAVIOURS = {"ok": [], "hang": ["-DHANG"], "segv": ["-DSEGV"]}


def compiler() -> str | None:
    return shutil.which("cc") or shutil.which("gcc")


def build(directory: Path, behaviour: str) -> Path:
    """Compile the fake into ``directory/libnvidia-ml.so.1``; returns the directory."""
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler to build the fake libnvidia-ml.so.1")
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "fake_nvml.c"
    source.write_text(_SOURCE, encoding="utf-8")
    target = directory / "libnvidia-ml.so.1"
    command = [cc, "-shared", "-fPIC", "-O0", *BEHAVIOURS[behaviour], "-o", str(target)]
    subprocess.run([*command, str(source)], check=True)
    return directory
