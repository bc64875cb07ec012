"""Build and load the compiled evaluator (serving_native_c.SOURCE) with the machine's C compiler.

Standard library only: the forking parent of serve.py builds the library once before it starts
the workers (so they never race a compiler), without importing numpy or xgboost. The library is
cached by source hash under SERVING_NATIVE_CACHE (default: <tmp>/ml-platform-serving) and
written atomically, so concurrent script-mode workers may build it at the same time safely.
Without a compiler (or with SERVING_NATIVE=off) nothing is built and the numpy evaluator serves.
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from serving_native_c import SOURCE

log = logging.getLogger(__name__)
# No -ffast-math: the evaluator relies on IEEE NaN comparisons and float32 rounding.
FLAGS = ("-O2", "-std=c11", "-shared", "-fPIC")
_loaded: dict[str, ctypes.CDLL] = {}


class NativeUnavailable(RuntimeError):
    """The compiled evaluator cannot be used here; the message says why."""


def library_path() -> Path:
    digest = hashlib.sha256((SOURCE + " ".join(FLAGS)).encode()).hexdigest()[:16]
    cache = os.environ.get("SERVING_NATIVE_CACHE") or os.path.join(tempfile.gettempdir(),
                                                                     "ml-platform-serving")
    return Path(cache) / f"libserving-{digest}.so"


def _compiler() -> str:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    raise NativeUnavailable("no C compiler (cc, gcc or clang) on PATH")


def build() -> Path:
    """Compile the library unless the cache already holds it; raise NativeUnavailable if unable."""
    if os.environ.get("SERVING_NATIVE", "on").lower() in ("off", "0", "false", "no"):
        raise NativeUnavailable("turned off by SERVING_NATIVE")
    target = library_path()
    if target.is_file():
        return target
    compiler = _compiler()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        source = Path(work) / "serving.c"
        source.write_text(SOURCE)
        partial = Path(work) / target.name
        result = subprocess.run([compiler, *FLAGS, "-o", str(partial), str(source), "-lm"],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            first = (result.stderr.strip().splitlines() or ["no output"])[0]
            raise NativeUnavailable(f"{compiler} failed: {first}")
        os.replace(partial, target)  # atomic: a concurrent builder sees the old or the new file
    log.info("compiled evaluator built at %s", target)
    return target


def load() -> ctypes.CDLL:
    """The library with its function signatures set (built first if needed)."""
    path = str(build())
    if path not in _loaded:
        try:
            lib = ctypes.CDLL(path)
        except OSError as error:
            raise NativeUnavailable(f"cannot load {path}: {error}") from None
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        lib.csv_parse.argtypes = [ctypes.c_char_p, i64, ctypes.c_char, i64, i64, ptr, ptr, ptr]
        lib.csv_parse.restype = ctypes.c_int
        lib.forest_predict.argtypes = [ptr, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, i64, ptr, i64,
                                       ctypes.c_int, ptr, ptr]
        lib.forest_predict.restype = None
        _loaded[path] = lib
    return _loaded[path]


def try_load() -> tuple[ctypes.CDLL | None, str]:
    """(library, note) or (None, why not): for callers that fall back to numpy."""
    try:
        return load(), "compiled evaluator"
    except NativeUnavailable as error:
        return None, f"compiled evaluator unavailable: {error}"
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"compiled evaluator unavailable: {type(error).__name__}: {error}"
