"""A fake pynvml whose GPUs' utilisation follows a schedule in time and who sees our processes.

Extends ``tests.fakes.fake_nvml.FakeNvml`` (the one NVML fake) with what a profile samples:
utilisation that changes while the script runs, the compute processes (the profiled process
tree, found with psutil), and per-process SM utilisation samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import psutil

from tests.fakes.fake_nvml import FakeNvml, load_description


class TimelineNvml(FakeNvml):
    def __init__(
        self,
        fixture: str,
        utilization: Callable[[float], int],
        process_memory_bytes: int = 3 << 30,
    ) -> None:
        super().__init__(load_description(fixture))
        self.utilization = utilization  # seconds since NVML was initialised -> utilization %
        self.process_memory_bytes = process_memory_bytes
        self.started = time.perf_counter()

    def nvmlInit(self) -> None:
        # dldoctor initialises NVML once the script runs: the GPU's story starts there.
        super().nvmlInit()
        self.started = time.perf_counter()

    def _now(self) -> int:
        return int(self.utilization(time.perf_counter() - self.started))

    def _our_pids(self) -> list[int]:
        return [p.pid for p in psutil.Process().children(recursive=True)]

    def nvmlDeviceGetUtilizationRates(self, h: Any) -> SimpleNamespace:
        self._check("nvmlDeviceGetUtilizationRates", h)
        return SimpleNamespace(gpu=self._now(), memory=20)

    def nvmlDeviceGetComputeRunningProcesses(self, h: Any) -> list[SimpleNamespace]:
        self._check("nvmlDeviceGetComputeRunningProcesses", h)
        if h.gpu != 0:  # the script uses the first GPU only
            return []
        return [
            SimpleNamespace(pid=p, usedGpuMemory=self.process_memory_bytes)
            for p in self._our_pids()[:1]
        ]

    def nvmlDeviceGetProcessUtilization(self, h: Any, last_seen_us: int) -> list[SimpleNamespace]:
        self._check("nvmlDeviceGetProcessUtilization", h)
        now_us = int(time.time() * 1e6)
        pids = self._our_pids()[:1] if h.gpu == 0 else []
        if not pids:
            raise self._not_found()
        return [SimpleNamespace(pid=pids[0], smUtil=self._now(), memUtil=10, timeStamp=now_us)]

    def _not_found(self) -> Exception:
        from tests.fakes.fake_nvml import nvml_error

        return nvml_error("NotFound")
