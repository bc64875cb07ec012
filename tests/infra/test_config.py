"""Configuration: every shipped file loads, and every kind of bad input fails with file, field, reason."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ml_platform.config import CONFIG_DIR, ENVIRONMENTS, ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_shipped_configs_are_valid(environment):
    config = load_config(environment)
    assert config.environment == environment
    assert len(config.availability_zones) == config.network.az_count
    assert all(az.startswith(config.region) for az in config.availability_zones)


def test_prod_retains_and_dev_destroys():
    assert load_config("prod").destroy_on_delete is False
    assert load_config("dev").destroy_on_delete is True


def _write(tmp_path: Path, environment: str, mutate) -> Path:
    data = yaml.safe_load((CONFIG_DIR / f"{environment}.yaml").read_text())
    mutate(data)
    (tmp_path / f"{environment}.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


BAD_INPUTS = [
    ("unknown key", "dev", lambda d: d["network"].update(cidr_block="10.0.0.0/16"),
     "network.cidr_block", "unknown key"),
    ("wrong type", "dev", lambda d: d["network"].update(az_count="two"), "network.az_count", "integer"),
    ("account not 12 digits", "dev", lambda d: d.update(account="12345"), "account", "12-digit"),
    ("account as a number", "dev", lambda d: d.update(account=111111111111), "account", "string"),
    ("invalid region", "dev", lambda d: d.update(region="europe-1"), "region", "region"),
    ("region without an XGBoost image", "dev", lambda d: d.update(region="sa-east-1"), "region",
     "no SageMaker XGBoost image account is known"),
    ("invalid CIDR", "dev", lambda d: d["network"].update(cidr="10.0.0.300/16"), "network.cidr", "CIDR"),
    ("public CIDR", "dev", lambda d: d["network"].update(cidr="8.8.0.0/16"), "network.cidr", "private"),
    ("prod destroys data", "prod", lambda d: d.update(removal_policy="destroy"), "<root>", "prod must retain"),
    ("bad removal policy", "dev", lambda d: d.update(removal_policy="delete"), "removal_policy", "destroy"),
    ("glacier before tiering", "dev",
     lambda d: d["data_lake"]["raw"].update(intelligent_tiering_days=100, glacier_days=90),
     "data_lake.raw", "glacier_days"),
    ("retention CloudWatch refuses", "dev", lambda d: d["network"].update(flow_log_retention_days=31),
     "network.flow_log_retention_days", "retention"),
    ("missing section", "dev", lambda d: d.pop("tags"), "tags", "required"),
    ("bad e-mail", "dev", lambda d: d["alerts"].update(email="nobody"), "alerts.email", "e-mail"),
    ("bad instance type", "dev", lambda d: d["training"].update(instance_type="c5.large"),
     "training.instance_type", "instance type"),
]


@pytest.mark.parametrize("case,environment,mutate,field,reason", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_file_field_and_reason(tmp_path, case, environment, mutate, field, reason):
    config_dir = _write(tmp_path, environment, mutate)
    with pytest.raises(ConfigError) as caught:
        load_config(environment, config_dir)
    message = str(caught.value)
    assert str(config_dir / f"{environment}.yaml") in message
    assert f"  - {field}:" in message
    assert reason.lower() in message.lower()


def test_environment_must_match_file(tmp_path):
    shutil.copy(CONFIG_DIR / "dev.yaml", tmp_path / "staging.yaml")
    with pytest.raises(ConfigError, match="environment: is 'dev' but the file is for 'staging'"):
        load_config("staging", tmp_path)


def test_not_yaml_and_missing_file(tmp_path):
    (tmp_path / "dev.yaml").write_text("network: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config("dev", tmp_path)
    with pytest.raises(ConfigError, match="no configuration file"):
        load_config("staging", tmp_path)


def test_app_exits_nonzero_without_traceback_on_bad_config(tmp_path):
    config_dir = _write(tmp_path, "prod", lambda d: d.update(removal_policy="destroy"))
    for env in ("dev", "staging"):
        shutil.copy(CONFIG_DIR / f"{env}.yaml", config_dir / f"{env}.yaml")
    env = {**os.environ, "ML_PLATFORM_CONFIG_DIR": str(config_dir), "CDK_OUTDIR": str(tmp_path / "out"),
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "prod.yaml" in result.stderr and "prod must retain" in result.stderr
