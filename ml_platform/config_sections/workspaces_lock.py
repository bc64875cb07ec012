"""The Studio domain lock: per environment and `workspaces.domain.version`, the create-only
properties the domain was created with (`config/studio_domain.lock.json`, committed).

Changing any of them on an existing `AWS::SageMaker::Domain` replaces it: a new domain with a new,
empty home file system, the old one left behind. Synth refuses such a change under the same version;
bumping `workspaces.domain.version` makes the replacement explicit (a new name). A version the lock
does not know is recorded with `make workspaces-lock` (`python -m ml_platform.config_sections.workspaces_lock`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml_platform.config_sections.lock_files import read_lock_file, record_environments

if TYPE_CHECKING:
    from ml_platform.config import PlatformConfig

LOCK_FILE = Path(__file__).resolve().parents[2] / "config" / "studio_domain.lock.json"
FIELD = "workspaces.domain.version"


def domain_name(config: PlatformConfig) -> str:
    """The domain's physical name: the version is part of it, so a bump is a new domain."""
    return f"{config.name_prefix}-studio-v{config.workspaces.domain.version}"


def create_only_properties(config: PlatformConfig) -> dict[str, Any]:
    """What replaces the domain when it changes (AWS::SageMaker::Domain, "Update requires: Replacement")."""
    return {"domain_name": domain_name(config), "auth_mode": "IAM", "app_network_access_type": "VpcOnly",
            "kms_key": "models", "vpc_cidr": config.network.cidr, "subnets": list(config.availability_zones),
            "tags": dict(sorted(config.tags.as_dict().items()))}


def read_lock(path: Path = LOCK_FILE) -> dict[str, Any]:
    return read_lock_file(path)


def check(config: PlatformConfig, lock: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) when this configuration would replace a locked domain in place."""
    if not config.workspaces.enabled:
        return []
    version = config.workspaces.domain.version
    versions = lock.get(config.environment, {})
    newest = max((int(v) for v in versions), default=0)
    entry = versions.get(str(version))
    if entry is None:
        if version < newest:
            return [(FIELD, (f"version {version} is below v{newest}, which this environment already has; the older "
                            f"domain is retained: use version {newest + 1}"))]
        return [(FIELD, (f"version {version} is not in {LOCK_FILE.name}: record it with `make workspaces-lock` and "
                        "commit the lock"))]
    changed = sorted(k for k, v in create_only_properties(config).items() if entry.get(k) != v)
    if changed:
        return [(FIELD, (f"create-only properties of the Studio domain changed ({', '.join(changed)}): CloudFormation "
                        f"would replace the domain and its users' home file system; set version: {newest + 1} "
                        "(a new domain; the old one is retained) or revert"))]
    return []


def update(config: PlatformConfig, lock: dict[str, Any]) -> dict[str, Any]:
    """The lock with this environment's current version recorded; refuses to rewrite a locked one."""
    refused = [p for p in check(config, lock) if "record it" not in p[1]]
    if refused:
        raise ValueError("; ".join(f"{field}: {reason}" for field, reason in refused))
    result: dict[str, Any] = json.loads(json.dumps(lock))
    if config.workspaces.enabled:
        result.setdefault(config.environment, {})[str(config.workspaces.domain.version)] = create_only_properties(config)
    return result


def main(argv: list[str]) -> int:
    """Record the named environments' domains (default: all three)."""
    return record_environments(LOCK_FILE, argv, "studio domain lock", update, skip_check="check_locks")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
