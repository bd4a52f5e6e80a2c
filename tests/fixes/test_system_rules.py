"""System packages per platform: winget on native Windows, the distribution's manager on Linux,
words only where the platform is unknown; the note names what to install."""

from __future__ import annotations

from dldoctor.fixes.system import note, render
from dldoctor.model import Intent
from tests.checks.scenarios import make_facts

WINDOWS = make_facts({"system": {"os": {"name": "Windows", "distribution_id": None}}})
UNKNOWN_OS = make_facts({"system": {"os": {"name": None, "distribution_id": "ubuntu"}}})


def test_native_windows_installs_a_system_package_with_winget_by_its_exact_id():
    intent = Intent(action="system-package", names=("vc-redist-x64",))
    assert render(intent, WINDOWS) == (
        ("winget", "install", "--exact", "--id", "Microsoft.VCRedist.2015+.x64"),
    )
    assert note(intent, WINDOWS) == ""


def test_an_unknown_platform_gets_words_only_whatever_distribution_it_names():
    intent = Intent(action="system-package", names=("c-compiler", "python-headers"))
    assert render(intent, UNKNOWN_OS) == ()
    assert note(intent, UNKNOWN_OS) == (
        "Install a C/C++ compiler and the Python development headers with your system's "
        "package manager."
    )


def test_a_package_the_matrix_cannot_name_is_said_by_its_own_name():
    intent = Intent(action="system-package", names=("vc-redist-x64",))
    linux = make_facts()  # Ubuntu: apt-get has no row for it
    assert render(intent, linux) == ()
    assert note(intent, linux) == ("Install vc-redist-x64 with your system's package manager.")
