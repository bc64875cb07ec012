"""Feature-store configuration: every refusal names the file, the field and the reason; a create-only
change without a version bump is refused at load time (synth) through the lock file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ml_platform.config import CONFIG_DIR, ConfigError, load_config
from ml_platform.config_sections.features_lock import LOCK_FILE, read_lock, update


def _write(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text())
    change(raw["features"]["groups"][0], raw)
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(raw))
    return tmp_path


def _load(tmp_path: Path, change, lock: Path = LOCK_FILE):
    return load_config("dev", _write(tmp_path, change), lock_path=lock)


@pytest.mark.parametrize("change,message", [
    (lambda g, _: g["features"].append({"name": "Amount", "type": "Fractional", "source": "amount"}),
     "feature 'Amount': name used twice"),
    (lambda g, _: g["features"].append({"name": "write_time", "type": "String", "source": "event_time"}),
     "feature 'write_time': reserved"),
    (lambda g, _: g.update(record_identifier="txn"), "record_identifier 'txn' is not one of the features"),
    (lambda g, _: g["features"][1].update(type="Integral"), "event_time_feature 'event_time' must be String"),
    (lambda g, _: g["features"][8].update(type="Integral"), "feature 'amount': Integral cannot hold the event's double"),
    (lambda g, _: g["features"].append({"name": "amout", "type": "Fractional"}), "source 'amout' is not a field of"),
    (lambda g, _: g["features"][0].update(name="event id"), "features.0.name: String should match pattern"),
    (lambda g, _: g["online_store"].update(storage_type="InMemory"), "InMemory cannot be combined with an offline store"),
    (lambda g, _: g.update(name="a-very-long-feature-group-name-that-goes-on-and-on"), "String should match pattern"),
    (lambda g, raw: raw["data_lake"]["features"].update(expiration_days=400), "offline stores are Iceberg tables"),
])
def test_invalid_groups_are_refused_naming_file_field_and_reason(tmp_path, change, message):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, change)
    assert str(tmp_path / "dev.yaml") in str(err.value) and message in str(err.value)
    assert "features" in str(err.value)


def test_create_only_change_without_a_version_bump_is_refused(tmp_path):
    # GIVEN the committed lock WHEN the identifier of a locked version changes THEN synth refuses it
    with pytest.raises(ConfigError, match=r"features\.groups\.0\.version: transactions: create-only properties "
                                          r"changed without a version bump \(record_identifier\).*set version: 2"):
        _load(tmp_path, lambda g, _: (g.update(record_identifier="customer_id")))


def test_cost_tags_are_create_only_too(tmp_path):
    # Tags are create-only on AWS::SageMaker::FeatureGroup, and the tagging Aspect sets them
    with pytest.raises(ConfigError, match=r"create-only properties changed without a version bump \(tags\)"):
        _load(tmp_path, lambda _, raw: raw["tags"].update(owner="someone-else"))


def test_removing_a_feature_needs_a_version_bump(tmp_path):
    with pytest.raises(ConfigError, match=r"features removed or retyped \(device_type \(String\)\)"):
        _load(tmp_path, lambda g, _: g["features"].pop(7))


def test_a_version_bump_is_accepted_once_recorded(tmp_path):
    # GIVEN a changed identifier with the version bumped
    def bump(group, _):
        group.update(version=2, record_identifier="customer_id")
    with pytest.raises(ConfigError, match="version 2 is not in feature_groups.lock.json: record it"):
        _load(tmp_path, bump)
    # WHEN the lock records it (what `make feature-lock` does) THEN the configuration loads
    config = load_config("dev", tmp_path, check_feature_lock=False)
    lock = tmp_path / "lock.json"
    lock.write_text(json.dumps(update("dev", config.features, config.tags.as_dict(), read_lock())))
    assert load_config("dev", tmp_path, lock_path=lock).features.groups[0].physical_name("mlp-dev") == \
        "mlp-dev-transactions-v2"
    # AND going back to version 1 with the changed identifier is refused (v1 is retained and exists)
    (tmp_path / "dev.yaml").write_text((tmp_path / "dev.yaml").read_text().replace("version: 2", "version: 1"))
    with pytest.raises(ConfigError, match="without a version bump"):
        load_config("dev", tmp_path, lock_path=lock)


def test_the_lock_never_rewrites_a_locked_version(tmp_path):
    _write(tmp_path, lambda g, _: g.update(description="Something else"))
    config = load_config("dev", tmp_path, check_feature_lock=False)
    with pytest.raises(ValueError, match=r"\(description\)"):
        update("dev", config.features, config.tags.as_dict(), read_lock())


def test_committed_configs_match_the_lock():
    for environment in ("dev", "staging", "prod"):
        assert load_config(environment).features.enabled
