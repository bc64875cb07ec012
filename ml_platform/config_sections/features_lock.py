"""The feature-group lock: each environment's groups, per version, with their create-only properties.

AWS::SageMaker::FeatureGroup replaces the group when a create-only property changes
(FeatureGroupName, RecordIdentifierFeatureName, EventTimeFeatureName, OnlineStoreConfig's
EnableOnlineStore/StorageType/SecurityConfig, OfflineStoreConfig, RoleArn, Description, Tags), and
with our fixed, versioned names the replacement fails with "already exists". FeatureDefinitions
can only grow. `config/feature_groups.lock.json` (committed) records what each deployed version
was created with; synth refuses a configuration that would change a locked version in place:

- a create-only property differs from the lock at the same version -> bump the version;
- a locked feature is removed or retyped -> bump the version (Feature Store only adds);
- a version the lock does not know, or features added since -> `make feature-lock` records them;
- a version below the highest locked one -> refused (the old group is retained and still exists).

`python -m ml_platform.config_sections.features_lock dev staging prod` updates the lock (new
versions and added features only; it never rewrites a locked version).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ml_platform.config_sections.features import FeatureGroupConfig, FeaturesConfig
from ml_platform.config_sections.lock_files import read_lock_file, record_environments

LOCK_FILE = Path(__file__).resolve().parents[2] / "config" / "feature_groups.lock.json"
CREATE_ONLY = ("record_identifier", "event_time_feature", "description", "online_store_enabled",
               "online_storage_type", "offline_store", "offline_table_format", "tags")


def locked_properties(group: FeatureGroupConfig, tags: dict[str, str]) -> dict[str, Any]:
    """What the lock records for one group version: its create-only properties and its features."""
    return {
        "record_identifier": group.record_identifier, "event_time_feature": group.event_time_feature,
        "description": group.description, "online_store_enabled": group.online_store.enabled,
        "online_storage_type": group.online_store.storage_type, "offline_store": group.offline_store,
        "offline_table_format": "Iceberg", "tags": dict(sorted(tags.items())),
        "features": [[f.name, f.type] for f in group.features],
    }


def read_lock(path: Path = LOCK_FILE) -> dict[str, Any]:
    """The lock's content; an absent file is an empty lock."""
    return read_lock_file(path)


def check(environment: str, features: FeaturesConfig, tags: dict[str, str],
          lock: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) for every group this configuration would change in place."""
    problems: list[tuple[str, str]] = []
    for index, group in enumerate(features.groups):
        where = f"features.groups.{index}"
        versions = lock.get(environment, {}).get(group.name, {})
        newest = max((int(v) for v in versions), default=0)
        current = locked_properties(group, tags)
        entry = versions.get(str(group.version))
        if entry is None:
            if group.version < newest:
                problems.append((f"{where}.version", (f"{group.name}: version {group.version} is below v{newest}, "
                                 "which this environment already has; groups are retained, so the older name "
                                 f"still exists: use version {newest + 1}")))
            else:
                problems.append((f"{where}.version", (f"{group.name}: version {group.version} is not in "
                                 f"{LOCK_FILE.name}: record it with `make feature-lock` and commit the lock")))
            continue
        changed = [key for key in CREATE_ONLY if entry.get(key) != current[key]]
        if changed:
            problems.append((f"{where}.version", (f"{group.name}: create-only properties changed without a "
                             f"version bump ({', '.join(changed)}): CloudFormation would replace the group and "
                             f"fail on its existing name; set version: {newest + 1} (a new group; "
                             f"v{group.version} is retained) or revert")))
        problems += _feature_problems(where, group, entry, current, newest)
    return problems


def _feature_problems(where: str, group: FeatureGroupConfig, entry: dict[str, Any], current: dict[str, Any],
                      newest: int) -> list[tuple[str, str]]:
    now = {name: kind for name, kind in current["features"]}
    before = {name: kind for name, kind in entry["features"]}
    lost = sorted(f"{n} ({k})" for n, k in before.items() if now.get(n) != k)
    if lost:
        return [(f"{where}.features", (f"{group.name}: features removed or retyped ({', '.join(lost)}): Feature "
                 f"Store can only add features; set version: {newest + 1} or restore them"))]
    added = sorted(set(now) - set(before))
    if added:
        return [(f"{where}.features", (f"{group.name}: features added since the lock ({', '.join(added)}): "
                 "record them with `make feature-lock` and commit the lock (adding is an in-place update)"))]
    return []


def update(environment: str, features: FeaturesConfig, tags: dict[str, str], lock: dict[str, Any]) -> dict[str, Any]:
    """The lock with this environment's new versions and added features recorded.

    Raises ValueError when the configuration changes a locked version in place: the lock is a
    record of what was created, not a way to silence the check.
    """
    refused = [p for p in check(environment, features, tags, lock)
               if "record them" not in p[1] and "record it" not in p[1]]
    if refused:
        raise ValueError("; ".join(f"{field}: {reason}" for field, reason in refused))
    result: dict[str, Any] = json.loads(json.dumps(lock))
    for group in features.groups:
        versions = result.setdefault(environment, {}).setdefault(group.name, {})
        versions[str(group.version)] = locked_properties(group, tags)
    return result


def main(argv: list[str]) -> int:
    """Update the lock for the named environments from config/<env>.yaml."""
    return record_environments(LOCK_FILE, argv, "feature lock",
                               lambda config, lock: update(config.environment, config.features,
                                                           config.tags.as_dict(), lock),
                               skip_check="check_feature_lock")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
