"""constraints.txt resolves on every Python 3.11 that the README promises.

Debian 12's own Python is 3.11.2. A pinned release that requires a later
patch release (pymdown-extensions 13 needs 3.11.5) stops `scripts/setup.sh`
there with ResolutionImpossible, while a newer 3.11 installs it happily; such
a pin needs an environment marker and an alternative for the older Python.
"""

import importlib.metadata
import pathlib
import platform

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

CONSTRAINTS = pathlib.Path(__file__).resolve().parents[1] / "constraints.txt"
DEBIAN_12_PYTHON = "3.11.2"


def _environment(python_full_version):
    environment = default_environment()
    environment["python_full_version"] = python_full_version
    environment["python_version"] = ".".join(python_full_version.split(".")[:2])
    return environment


def _pins(python_full_version):
    """{name: version} of the pins that apply on `python_full_version`."""
    environment = _environment(python_full_version)
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"two pins of {name} apply on Python {python_full_version}"
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line!r} is not an exact pin"
        pins[name] = specifier.version
    return pins


@pytest.mark.parametrize("python", [DEBIAN_12_PYTHON, platform.python_version()])
def test_every_package_has_one_pin_on_each_python(python):
    assert len(_pins(python)) > 100


def test_installed_versions_are_the_pins_of_this_python():
    pins = _pins(platform.python_version())
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
    }
    # A local version label (torch's `+cpu`) still satisfies its `==` pin.
    wrong = {
        name: (installed[name], pin)
        for name, pin in pins.items()
        if name in installed and installed[name].split("+")[0] != pin
    }
    assert not wrong, f"installed (version, pin): {wrong}"


def test_pins_installed_here_also_install_on_debian_12():
    """A release that refuses 3.11.2 is pinned to another version there."""
    debian = _pins(DEBIAN_12_PYTHON)
    refused = []
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        requires = dist.metadata.get("Requires-Python")
        if requires and DEBIAN_12_PYTHON not in SpecifierSet(requires):
            if debian.get(name) in (None, dist.version):
                refused.append(f"{name}=={dist.version} (Requires-Python {requires})")
    assert not refused, f"pinned for Debian 12's Python {DEBIAN_12_PYTHON} but refuse it: {refused}"
