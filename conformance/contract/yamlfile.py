"""YAML files of the contract, read with libyaml where PyYAML has it: the catalog is about 8,000 lines,
and the pure-Python reader takes seconds of every run's start for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=Loader)
