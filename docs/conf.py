"""Sphinx configuration for datamonitor's docs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

project = "datamonitor"
author = "the datamonitor developers"
copyright = "2026, the datamonitor developers"
release = re.search(r'^__version__ = "([^"]+)"', (ROOT / "datamonitor" / "__init__.py").read_text(), re.M).group(1)
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
html_theme = "alabaster"
html_static_path: list[str] = []
exclude_patterns = ["_build"]
