"""What each check asks a person to do on each platform: its intents, and the commands fixes/ renders."""

from __future__ import annotations

import pytest

from dldoctor.checks.registry import run_checks
from dldoctor.fixes.commands import shown
from tests.checks.intent_machines import SCENARIOS

# scenario -> (code, [(intent actions, shown commands, automatic) per fix])
EXPECTED = {
    "driver-library-mismatch": (
        "DD102",
        [
            (["reboot"], ["sudo reboot"]),
            (
                ["reload-module"],
                [
                    "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia",
                    "sudo modprobe -a nvidia nvidia_modeset nvidia_drm nvidia_uvm",
                ],
            ),
        ],
    ),
    "nvml-error": ("DD103", [(["diagnose"], ["sudo dmesg"])]),
    "nvml-hung": (
        "DD105",
        [
            (["diagnose"], ["sudo dmesg --level=err,warn"]),
            (["service"], ["sudo systemctl enable --now nvidia-persistenced"]),
        ],
    ),
    "module-not-loaded": (
        "DD104",
        [(["rebuild-module", "reboot"], ["sudo dkms autoinstall", "sudo reboot"])],
    ),
    "visible-devices-empty-linux": ("DD401", [(["unset"], ["unset CUDA_VISIBLE_DEVICES"])]),
    "visible-devices-empty-windows": (
        "DD401",
        [(["unset"], ["Remove-Item Env:CUDA_VISIBLE_DEVICES"])],
    ),
    "visible-devices-too-high": ("DD402", [(["set"], ["export CUDA_VISIBLE_DEVICES=0,1"])]),
    "visible-devices-too-high-windows": (
        "DD402",
        [(["set"], ["Set-Item Env:CUDA_VISIBLE_DEVICES '0,1'"])],
    ),
    "wsl-without-libcuda": ("DD502", [(["wsl-update"], ["wsl --update", "wsl --shutdown"])]),
    "windows-tensorflow-2-15": (
        "DD511",
        [
            (["wsl-install"], ["wsl --install"]),  # the Linux install is said, not a bare pip
            (["install"], ["/env/bin/python -m pip install 'tensorflow==2.10.*'"]),
        ],
    ),
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_check_names_intents_that_render_for_its_platform_and_are_by_hand(matrix, scenario):
    code, wanted = EXPECTED[scenario]
    facts = SCENARIOS[scenario]
    (finding,) = [f for o in run_checks(facts, matrix) for f in o.findings if f.code == code]
    got = [([i.action for i in x.intents], [shown(c) for c in x.commands]) for x in finding.fixes]
    assert got == wanted
    assert not any(x.automatic for x in finding.fixes)  # root, a reboot, the host, the shell
