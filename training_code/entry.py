"""Container entry point of our own image: SageMaker starts it as `<image> train` or `<image> serve`.

`train` runs train.py (training jobs), `serve` runs serve.py (the inference server on port 8080).
Processing jobs name their own entrypoint (`python3 /opt/ml/code/preprocess.py ...`) and bypass this.
The process is replaced (exec), so SageMaker's signals (SIGTERM on stop/spot interruption) reach it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

CODE_DIR = Path(os.environ.get("SM_CODE_DIR", Path(__file__).resolve().parent))
COMMANDS = {"train": "train.py", "serve": "serve.py"}


def command_for(argv: list[str]) -> list[str]:
    """The command line for `train`/`serve` (default `train`), extra arguments passed through."""
    mode, rest = (argv[0], argv[1:]) if argv else ("train", [])
    if mode not in COMMANDS:
        raise SystemExit(f"unknown command {mode!r}: expected one of {', '.join(COMMANDS)}")
    return [sys.executable, str(CODE_DIR / COMMANDS[mode]), *rest]


def main(argv: list[str] | None = None) -> None:
    command = command_for(sys.argv[1:] if argv is None else argv)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
