"""Compile a C source string into a shared library with the machine's C compiler, cached by source hash.

Standard library only: serve.py's forking parent builds its library before it imports numpy or
xgboost. A library lands at `<cache>/lib<stem>-<hash of source and flags>.so` and is written
atomically (built in a private folder, then renamed), so concurrent builders (script-mode workers,
training processes started together) never load a half-written file. The cache folder is made
private (0700), and a folder or library another user could have written is refused: the process
would run its code.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# No -ffast-math: the libraries rely on IEEE NaN comparisons and exact float32 rounding.
FLAGS = ("-O2", "-std=c11", "-shared", "-fPIC")


class NativeUnavailable(RuntimeError):
    """A compiled library cannot be used here; the message says why."""


def library_path(source: str, stem: str, cache_variable: str, default_folder: str) -> Path:
    """Where the library of `source` is cached: $cache_variable, else <tmp>/default_folder."""
    digest = hashlib.sha256((source + " ".join(FLAGS)).encode()).hexdigest()[:16]
    cache = os.environ.get(cache_variable) or os.path.join(tempfile.gettempdir(), default_folder)
    return Path(cache) / f"lib{stem}-{digest}.so"


def switched_off(variable: str) -> bool:
    """True where the environment variable turns the compiled code off (off, 0, false, no)."""
    return os.environ.get(variable, "on").lower() in ("off", "0", "false", "no")


def _compiler() -> str:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    raise NativeUnavailable("no C compiler (cc, gcc or clang) on PATH")


def _check_trusted(path: Path) -> None:
    """Refuse a cache folder or library that someone else could have written: the process would load
    whatever is there (the default folder lies in the shared temporary folder)."""
    info = path.stat()
    if info.st_uid not in (os.getuid(), 0) or info.st_mode & 0o022:
        raise NativeUnavailable(f"{path} is writable by or belongs to another user; not loading from it")


def build(source: str, target: Path) -> Path:
    """Compile `source` to `target` unless it is already there; raise NativeUnavailable if unable."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_trusted(target.parent)
    if target.is_file():
        _check_trusted(target)
        return target
    compiler = _compiler()
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        source_file = Path(work) / f"{target.stem}.c"
        source_file.write_text(source)
        partial = Path(work) / target.name
        result = subprocess.run([compiler, *FLAGS, "-o", str(partial), str(source_file), "-lm"],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            first = (result.stderr.strip().splitlines() or ["no output"])[0]
            raise NativeUnavailable(f"{compiler} failed: {first}")
        os.replace(partial, target)  # atomic: a concurrent builder sees the old or the new file
    return target
