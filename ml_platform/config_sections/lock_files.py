"""What the create-only locks share (features_lock, workspaces_lock): reading a lock file and the
command that records the named environments in it."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ml_platform.config import PlatformConfig

ENVIRONMENTS = ("dev", "staging", "prod")


def read_lock_file(path: Path) -> dict[str, Any]:
    """The lock's content; an absent file is an empty lock."""
    if not path.is_file():
        return {}
    content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return content


def record_environments(path: Path, environments: Sequence[str], what: str,
                        update: Callable[[PlatformConfig, dict[str, Any]], dict[str, Any]],
                        skip_check: Literal["check_feature_lock", "check_locks"]) -> int:
    """Load each environment's configuration without this lock's check (`skip_check`, the keyword of
    `load_config` that turns it off), fold it into the lock with `update` (which refuses to rewrite a
    locked version), and write the lock; 2 on the first refusal."""
    from ml_platform.config import ConfigError, load_config

    lock = read_lock_file(path)
    for environment in environments or ENVIRONMENTS:
        try:
            config = (load_config(environment, check_feature_lock=False) if skip_check == "check_feature_lock"
                      else load_config(environment, check_locks=False))
            lock = update(config, lock)
        except (ConfigError, ValueError) as err:
            print(f"{what} not updated: {environment}: {err}", file=sys.stderr)
            return 2
    path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0
