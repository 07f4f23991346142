"""A file engine that crashes the way a native library does (SIGSEGV) on files named ``crash*``.

Used by test_isolation.py as the worker's target: ``datamonitor.tests.crashing_engine:profile_file``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from datamonitor.profiling import profile_file as real_profile_file


def profile_file(path: Any, options: Any = None, progress: Any = None, *, sha256: Any = None) -> Any:
    if Path(path).name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return real_profile_file(path, options, progress, sha256=sha256)
