"""The locks install on a fresh machine: every pin exact, hashed, and under the name asked for.

In ``--require-hashes`` mode pip wants every requirement pinned with ``==``, and a package
that asks for ``coverage[toml]`` is answered only by a line ``coverage[toml]==x``: the pip
a fresh Python 3.11 venv brings (23.2) treats the extras-ed name as a requirement of its
own, so a lock compiled with ``--strip-extras`` (``coverage==x``) left it unpinned, and the
install broke the day coverage published a release the lock had no hash for. ``.ci/run``
proves the same by installing both locks into a brand-new venv against PyPI; this says
which pin is missing, without the network, from the metadata of what the venv installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
TEST_LOCK = ROOT / "requirements-test.txt"
RUNTIME_LOCK = ROOT / "requirements.txt"
LOCKS = [TEST_LOCK, RUNTIME_LOCK]


@dataclass(frozen=True)
class Pin:
    """One entry of a lock: ``coverage[toml]==7.17.5 --hash=... --hash=...``."""

    requirement: Requirement
    hashes: int

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.requirement.name)

    @property
    def extras(self) -> frozenset[str]:
        """Normalised as PEP 685 says extras compare (``html_clean`` is ``html-clean``)."""
        return frozenset(canonicalize_name(extra) for extra in self.requirement.extras)

    @property
    def version(self) -> str | None:
        """The version when the specifier is exactly one ``==``; otherwise ``None``."""
        (*specifiers,) = self.requirement.specifier
        if len(specifiers) == 1 and specifiers[0].operator == "==":
            return specifiers[0].version
        return None


def read_lock(text: str) -> list[Pin]:
    """The entries of a pip-compile lock: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    pins = []
    for line in joined.splitlines():
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        spec, *options = entry.split()
        pins.append(Pin(Requirement(spec), sum(o.startswith("--hash=") for o in options)))
    return pins


def applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    """On this Python, for the package installed with ``extras`` (and with none)."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in {"", *extras})


def unpinned_requests(pins: list[Pin]) -> list[str]:
    """What the pinned packages ask for, with extras, that no line of the lock pins under
    that extras-ed name; read from the installed packages' own metadata."""
    problems = []
    for pin in pins:
        for line in metadata.requires(pin.requirement.name) or []:
            wanted = Requirement(line)
            if not wanted.extras or not applies(wanted, pin.extras):
                continue
            extras = frozenset(canonicalize_name(extra) for extra in wanted.extras)
            if not any(p.name == canonicalize_name(wanted.name) and extras <= p.extras
                       for p in pins):
                named = f"{wanted.name}[{','.join(sorted(wanted.extras))}]"
                problems.append(f"{pin.name} asks for {named}: no {named}==... line")
    return problems


def strip_extras(text: str) -> str:
    """The lock as ``pip-compile --strip-extras`` writes it: ``coverage==x`` for
    ``coverage[toml]==x``."""
    return re.sub(r"^([A-Za-z0-9._-]+)\[[^\]]*\]", r"\1", text, flags=re.MULTILINE)


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.name)
def test_every_pin_is_exact_and_hashed(lock: Path) -> None:
    pins = read_lock(lock.read_text())
    assert pins
    loose = [str(pin.requirement) for pin in pins if pin.version is None or not pin.hashes]
    assert loose == []


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.name)
def test_a_request_with_extras_is_pinned_under_its_extras_name(lock: Path) -> None:
    assert unpinned_requests(read_lock(lock.read_text())) == []


def test_the_installed_packages_are_the_test_locks_versions() -> None:
    """The check above reads the venv's metadata: it must be the lock's own versions."""
    pins = read_lock(TEST_LOCK.read_text())
    installed = {pin.name: metadata.version(pin.requirement.name) for pin in pins}
    assert installed == {pin.name: pin.version for pin in pins}


def test_the_runtime_lock_pins_the_test_locks_versions() -> None:
    tested = {pin.name: (pin.version, pin.extras) for pin in read_lock(TEST_LOCK.read_text())}
    runtime = {pin.name: (pin.version, pin.extras) for pin in read_lock(RUNTIME_LOCK.read_text())}
    assert runtime
    assert {name: tested.get(name) for name in runtime} == runtime


def test_a_lock_compiled_with_strip_extras_is_caught() -> None:
    stripped = read_lock(strip_extras(TEST_LOCK.read_text()))
    assert "pytest-cov asks for coverage[toml]: no coverage[toml]==... line" in (
        unpinned_requests(stripped)
    )
