"""Where the runtime code the stacks ship as assets lives, relative to this package."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ROOT = REPO_ROOT / "lambda"  # one folder per function = one asset
GLUE_JOBS_ROOT = REPO_ROOT / "glue_jobs"
TRAINING_CODE_ROOT = REPO_ROOT / "training_code"
