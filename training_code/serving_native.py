"""Build and load the compiled evaluator (serving_native_c.SOURCE) with the machine's C compiler.

Standard library only: the forking parent of serve.py builds the library once before it starts
the workers (so they never race a compiler), without importing numpy or xgboost. The library is
cached by source hash under SERVING_NATIVE_CACHE (default: <tmp>/ml-platform-serving) and
written atomically (native_build), so concurrent script-mode workers may build it at the same time safely.
Without a compiler (or with SERVING_NATIVE=off) nothing is built and the numpy evaluator serves.
"""
from __future__ import annotations

import ctypes
import logging
import subprocess
from pathlib import Path

import native_build
from native_build import NativeUnavailable
from serving_native_c import SOURCE

log = logging.getLogger(__name__)
_loaded: dict[str, ctypes.CDLL] = {}

__all__ = ["NativeUnavailable", "build", "library_path", "load", "try_load"]


def library_path() -> Path:
    return native_build.library_path(SOURCE, "serving", "SERVING_NATIVE_CACHE", "ml-platform-serving")


def build() -> Path:
    """Compile the library unless the cache already holds it; raise NativeUnavailable if unable."""
    if native_build.switched_off("SERVING_NATIVE"):
        raise NativeUnavailable("turned off by SERVING_NATIVE")
    target = library_path()
    existed = target.is_file()
    native_build.build(SOURCE, target)
    if not existed:
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
