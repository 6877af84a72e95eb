"""Where the project's shipped data lives.

groundcoder is installed from its repository (``pip install -e .``), so the shipped corpora/,
models/ and configs/ folders sit beside ``src/``. ``GROUNDCODER_HOME`` points elsewhere (a copy of
those folders) for installs that are not a checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
RESOURCES_DIR = PACKAGE_DIR / "resources"


def project_home() -> Path:
    env = os.environ.get("GROUNDCODER_HOME")
    if env:
        return Path(env)
    return PACKAGE_DIR.parents[1]


def corpora_dir() -> Path:
    return project_home() / "corpora"


def models_dir() -> Path:
    return project_home() / "models"


def configs_dir() -> Path:
    return project_home() / "configs"


def default_codebook_path() -> Path:
    return corpora_dir() / "codebooks" / "micro_innovation.yaml"


def demo_corpus_dir() -> Path:
    return corpora_dir() / "demo"


def dictionaries_dir() -> Path:
    return corpora_dir() / "dictionaries"
