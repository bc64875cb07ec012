#!/usr/bin/env python3
"""Composition root: load each environment's configuration, build its Stage, run the security gates.

`cdk synth -c envs=dev` (or `make synth ENV=dev`) builds one environment; the default is all.
`cdk synth -c pipeline=true` builds only the delivery pipeline stack (`Pipeline`, tooling account from
config/pipeline.yaml), which deploys the same three Stages: dev, staging, then prod after approval.
A configuration error stops here, before any construct exists, with the file, field and reason.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import aws_cdk as cdk

from ml_platform import nag
from ml_platform.config import CONFIG_DIR, ENVIRONMENTS, ConfigError, load_config, load_pipeline_config
from ml_platform.report import read_violations, write_reports
from ml_platform.stacks.delivery_pipeline_stack import DeliveryPipelineStack
from ml_platform.stages.platform_stage import MlPlatformStage

PIPELINE_STACK = "Pipeline"


def selected_environments(value: str) -> list[str]:
    names = list(ENVIRONMENTS) if value in ("", "all") else [v.strip() for v in value.split(",")]
    unknown = [n for n in names if n not in ENVIRONMENTS]
    if unknown:
        raise ConfigError(f"-c envs: unknown environment(s) {unknown}; choose from {list(ENVIRONMENTS)} or 'all'")
    return names


def pipeline_mode(value: object) -> bool:
    text = str(value or "false").strip().lower()
    if text not in ("true", "false"):
        raise ConfigError(f"-c pipeline: expected true or false, got {value!r}")
    return text == "true"


def pinned_cli_version() -> str:
    """The CDK CLI version package.json pins; the pipeline's self-mutation uses the same one."""
    package = json.loads((Path(__file__).resolve().parent / "package.json").read_text())
    return str(package["devDependencies"]["aws-cdk"])


def main() -> int:
    app = cdk.App()
    try:
        pipeline = pipeline_mode(app.node.try_get_context("pipeline"))
        # The pipeline promotes every environment in order; -c envs selects environments to build directly.
        envs = list(ENVIRONMENTS) if pipeline else selected_environments(str(app.node.try_get_context("envs") or "all"))
        # ML_PLATFORM_CONFIG_DIR points at another set of environment files (tests, forks).
        config_dir = Path(os.environ.get("ML_PLATFORM_CONFIG_DIR", CONFIG_DIR))
        configs = [load_config(name, config_dir) for name in envs]
        pipeline_config = load_pipeline_config(config_dir) if pipeline else None
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if pipeline_config is not None:
        DeliveryPipelineStack(app, PIPELINE_STACK, config=pipeline_config, environments=configs,
                              cli_version=pinned_cli_version(),
                              availability_zones=[f"{pipeline_config.region}a"],
                              env=cdk.Environment(account=pipeline_config.account, region=pipeline_config.region),
                              description=f"{pipeline_config.name_prefix}: delivery pipeline dev -> staging -> prod")
    else:
        for config in configs:
            MlPlatformStage(app, config.environment.capitalize(), config=config)
    nag.add_rule_packs(app)
    try:
        app.synth()
    except RuntimeError as exc:
        if "ValidationFailed" not in str(exc):
            raise
    # The gate is enforced here rather than left to the framework: when the CDK CLI runs the app
    # it asks the framework not to fail synth on validation errors (@aws-cdk/core:
    # failSynthOnValidationErrors=false) and, as of CLI 2.1148, then exits 0 regardless.
    reports = write_reports(app.outdir)
    violations = read_violations(Path(app.outdir))
    if violations:
        for v in violations:
            print(f"ERROR {v.rule_id} {v.resource_path}: {v.description}", file=sys.stderr)
        print(f"security gate failed: {len(violations)} unacknowledged cdk-nag error(s); see "
              + ", ".join(str(r) for r in reports), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.exit(main())
