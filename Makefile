# Every target sets up what it needs: a fresh clone runs `make synth` or `make test` directly.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# ENV=all synthesizes every environment; ENV=dev (or staging, prod) just one.
ENV ?= all

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_DEFAULT_REGION ?= us-east-1
export SAGEMAKER_VALIDATE_ROLE := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup synth test lint check typecheck bench rehearse rehearse-labeling clean feature-lock workspaces-lock

$(PY_STAMP): requirements.txt requirements-dev.txt requirements-image-toolkit.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --upgrade --target $(VENV)/image-toolkit -r requirements-image-toolkit.txt
	touch $@

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

setup: $(PY_STAMP) $(NODE_STAMP)

synth: setup
	rm -rf cdk.out cdk.pipeline.out
	npx cdk synth --quiet -c envs=$(ENV) > /dev/null
	# The delivery pipeline (tooling account) with the three stages nested in it: what the pipeline deploys.
	npx cdk synth --quiet -c pipeline=true -o cdk.pipeline.out > /dev/null
	@ls -1 cdk.out/security-report-*.md cdk.pipeline.out/security-report-*.md | sed 's/^/security report: /'
	$(MAKE) --no-print-directory lint

# cfn-lint on every synthesized template (nested assemblies of each Stage included).
lint: setup
	$(VENV)/bin/cfn-lint --non-zero-exit-code error --format parseable

# ruff (pyflakes, import order, bugbear) on every Python file, configured in pyproject.toml.
check: setup
	$(VENV)/bin/ruff check .

# mypy --strict on ml_platform/ and app.py (pyproject.toml); part of `make test`.
typecheck: setup
	$(VENV)/bin/mypy

test: setup check typecheck
	# The PySpark tests need Java 17; install it where a fresh machine lacks it (Debian/Ubuntu, as root).
	command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }
	rc=0; $(PY) -m pytest -q tests || rc=$$?
	# pytest exits 5 when it collects no tests; an empty suite is not a failure of the build.
	if [ $$rc -ne 0 ] && [ $$rc -ne 5 ]; then exit $$rc; fi

bench: setup
	# bench_inference's load generator; install it where a fresh machine lacks it (Debian/Ubuntu, as root).
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) -m bench $(BENCH)

rehearse: setup
	# The Glue jobs run on local Spark: Java 17, installed where a fresh machine lacks it (as in `test`).
	command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }
	$(PY) scripts/rehearse.py
	$(PY) scripts/rehearse_monitoring.py

# Record the Studio domain's create-only properties for a new workspaces.domain.version.
workspaces-lock: setup
	$(PY) -m ml_platform.config_sections.workspaces_lock
# Active learning on a bundled scikit-learn dataset with simulated annotators; figures in .rehearsal/labeling/.
# Options pass through, e.g. make rehearse-labeling LABELING_ARGS="--dataset synthetic --target-accuracy 0.97".
rehearse-labeling: setup
	$(PY) scripts/rehearse_labeling.py $(LABELING_ARGS)

clean:
	rm -rf cdk.out cdk.pipeline.out .rehearsal bench_results

# Record new feature-group versions (and added features) of every environment in
# config/feature_groups.lock.json; synth refuses configurations that change a locked version.
feature-lock: setup
	$(PY) -m ml_platform.config_sections.features_lock $(if $(filter all,$(ENV)),dev staging prod,$(ENV))
