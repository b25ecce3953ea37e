"""The wheel's packages: the code's, found by setuptools, and the contract's folders (schemas/<group>/
as conformance.schemas.<group>), listed from the folder at build time so that a new schema group needs
no edit here, and setuptools does not warn about data folders it would take for undeclared packages."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
GROUPS = sorted(p.name for p in (HERE / "schemas").iterdir() if p.is_dir() and p.name.isidentifier())

setup(
    packages=[
        *find_packages(include=["conformance", "conformance.*"]),
        "conformance.schemas",
        *(f"conformance.schemas.{group}" for group in GROUPS),
        "conformance.docs",
    ]
)
