"""GIVEN a configuration that synthesizes but would fail at run time WHEN it is loaded THEN validation
refuses it naming the file, the field and the reason (issue 9 defects 3, 6, 11 and 14)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ml_platform.config import CONFIG_DIR, ENVIRONMENTS, ConfigError, load_config


def _write(tmp_path: Path, environment: str, mutate) -> Path:
    data = yaml.safe_load((CONFIG_DIR / f"{environment}.yaml").read_text())
    mutate(data)
    (tmp_path / f"{environment}.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def _set(section: str, **values):
    return lambda d: d.setdefault(section, {}).update(values)


REFUSED = [
    # 11: a canary that cannot exist, and guardrails where SageMaker has none
    ("canary on one instance", "staging", _set("endpoint", rollout="canary", min_instances=1),
     "endpoint", "more than the 50% of the fleet"),
    ("linear step on one instance", "prod", _set("endpoint", rollout="linear", min_instances=1),
     "endpoint", "more than the 50% of the fleet"),
    ("canary on serverless", "dev", _set("endpoint", rollout="canary"), "endpoint", "serverless endpoint needs rollout"),
    # 6: Glacier under prefixes read every night
    ("glacier on curated", "prod", lambda d: d["data_lake"]["curated"].update(glacier_days=365),
     "data_lake", "curated.glacier_days: curated_to_features reads the whole curated zone"),
    ("glacier on artifacts", "prod", lambda d: d["data_lake"]["artifacts"].update(glacier_days=400),
     "data_lake", "artifacts.glacier_days: an endpoint reads its model.tar.gz"),
    # 14: spot quota and reserved Lambda concurrency
    ("spot trials above the quota", "prod", _set("training", spot_instance_quota=4),
     "training", "4 x 2 = 8 ml.p3.2xlarge spot instances, above spot_instance_quota 4"),
    ("reserved concurrency above a new account's quota", "staging", lambda d: d.update(lambda_concurrency_quota=50),
     "<root>", "lambda_concurrency_quota: reserved concurrency 27"),
    # 3: tuning jobs on the AWS image take the built-in algorithm's hyperparameter names only
    ("train.py-only hyperparameter", "dev",
     lambda d: d["training"].update(static_hyperparameters={"objective": "binary:logistic", "data_cache_mb": "512"}),
     "training", "['data_cache_mb'] are not the built-in XGBoost algorithm's"),
]


@pytest.mark.parametrize("case,environment,mutate,field,reason", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_with_file_field_and_reason(tmp_path, case, environment, mutate, field, reason):
    config_dir = _write(tmp_path, environment, mutate)
    with pytest.raises(ConfigError) as caught:
        load_config(environment, config_dir)
    message = str(caught.value)
    assert str(config_dir / f"{environment}.yaml") in message
    assert f"  - {field}:" in message and reason in message, message


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_shipped_configs_declare_what_the_first_deploy_depends_on(environment):
    config = load_config(environment)
    t = config.training
    assert t.spot_instance_quota is not None and t.tuning_max_parallel_jobs * t.instance_count <= t.spot_instance_quota
    assert config.data_lake.curated.glacier_days is None and config.data_lake.artifacts.glacier_days is None


def test_dev_reserves_no_concurrency_and_staging_prod_reserve_27_of_a_declared_quota():
    def reserved(c):
        return [c.streaming.transform_reserved_concurrency, c.endpoint.deployer_reserved_concurrency,
                c.endpoint.api_proxy_reserved_concurrency]
    assert reserved(load_config("dev")) == [None, None, None]
    for environment in ("staging", "prod"):
        config = load_config(environment)
        assert sum(reserved(config)) == 27 and config.lambda_concurrency_quota >= 127


def test_prod_canary_fits_its_two_instances():
    endpoint = load_config("prod").endpoint
    assert endpoint.rollout == "canary" and endpoint.min_instances == 2
