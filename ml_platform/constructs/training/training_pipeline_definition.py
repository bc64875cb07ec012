"""The training pipeline's definition JSON, built with the SageMaker SDK v3 and no AWS call.

preprocess (Processing) -> tune (Bayesian HPO) -> evaluate (Processing, `evaluation.json`) ->
condition (AUC >= threshold) -> register (PendingManualApproval) [-> model -> batch transform].

Offline by construction (`offline_sdk.py`): the session has a fixed region, a default bucket and telemetry off; code
is given as S3 URIs of CDK assets (nothing is uploaded); roles are fixed ARNs (no lookups).
Values only known at deploy time (subnets, keys, buckets) are passed as `${Name}` placeholders
that the CDK construct substitutes with `Fn::Sub`.

Where the SDK falls short it says so here: SDK v3's tuner drops the training job's network
isolation, inter-container encryption and volume KMS key from the tuning job definition, so
`_harden_tuning_job` puts them back; register/model/transform are written as JSON
(`training_pipeline_steps.py`).
"""
from __future__ import annotations

import json
from typing import Any

from ml_platform.constants import PIPELINES_PREFIX
from ml_platform.constructs.training import training_pipeline_jobs as jobs
from ml_platform.constructs.training.offline_sdk import offline, pipeline_session, sdk
from ml_platform.constructs.training.training_pipeline_spec import Placement, TrainingPipelineSpec, execution_uri

PREPROCESS, TUNE, EVALUATE, CHECK, REGISTER, MODEL, TRANSFORM, FAIL = (
    "Preprocess", "TuneXGBoost", "Evaluate", "CheckModelQuality", "RegisterModel", "CreateModel",
    "BatchTransformTest", "ModelBelowThreshold")
# evaluate.py writes the Model Registry's model-quality shape; the condition reads this path.
AUC_JSON_PATH = "binary_classification_metrics.auc.value"
EVALUATION_FILE = "evaluation.json"
SPLITS = ("train", "validation", "test")


def _preprocess_step(spec: TrainingPipelineSpec, session: Any, params: dict[str, Any]) -> Any:
    from sagemaker.mlops.workflow.steps import ProcessingStep
    processor = jobs.vpc_processor(spec, session, "preprocess.py", spec.training.processing_instance_type)
    args = processor.run(
        inputs=[jobs.processing_input("input", params["InputDataUri"], "/opt/ml/processing/input"),
                jobs.code_input(spec)],
        outputs=[jobs.processing_output(s, f"/opt/ml/processing/{s}", execution_uri(spec, "preprocess", s))
                 for s in SPLITS],
        # preprocess.py's own defaults cover the SageMaker paths; the label column is ours.
        arguments=["--target-column", spec.training.target_column])
    return ProcessingStep(name=PREPROCESS, step_args=args)


def _tuning_step(spec: TrainingPipelineSpec, session: Any, params: dict[str, Any], preprocess: Any) -> Any:
    from sagemaker.mlops.workflow.steps import TuningStep
    from sagemaker.train.tuner import HyperparameterTuner
    t = spec.training
    tuner = HyperparameterTuner(
        model_trainer=jobs.xgboost_trainer(spec, session, params), objective_metric_name=t.tuning_objective_metric,
        objective_type=t.tuning_objective_type, hyperparameter_ranges=jobs.hyperparameter_ranges(t),
        # None for the AWS XGBoost image: SageMaker treats it as the built-in algorithm, refuses custom
        # MetricDefinitions and reads `validation:auc` etc. with the built-in's own regexes, which
        # match the native lines train.py prints (aws/sagemaker-xgboost-container#121).
        metric_definitions=spec.metric_definitions or None, strategy="Bayesian", max_jobs=t.tuning_max_jobs,
        max_parallel_jobs=t.tuning_max_parallel_jobs, early_stopping_type="Auto")
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    # More than one host: each trains on its own files (distributed.py joins them into one booster);
    # fully replicated, every host would train on every row. Validation stays whole on each host.
    train_distribution = "ShardedByS3Key" if t.instance_count > 1 else "FullyReplicated"
    channels = [jobs.training_channel("train", outputs["train"].S3Output.S3Uri, distribution=train_distribution),
                jobs.training_channel("validation", outputs["validation"].S3Output.S3Uri)]
    channels.append(jobs.training_channel("code", spec.code_uri, content_type=None))
    return TuningStep(name=TUNE, step_args=tuner.tune(inputs=channels))


def _evaluate_step(spec: TrainingPipelineSpec, session: Any, preprocess: Any,
                   tuning: Any) -> tuple[Any, Any, Any]:
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.steps import ProcessingStep
    processor = jobs.vpc_processor(spec, session, "evaluate.py", spec.training.processing_instance_type)
    best_model = tuning.get_top_model_s3_uri(top_k=0, s3_bucket=spec.artifacts_bucket,
                                             prefix=f"{PIPELINES_PREFIX}/{spec.name}/models")
    test = preprocess.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri
    args = processor.run(
        inputs=[jobs.processing_input("model", best_model, "/opt/ml/processing/model"),
                jobs.processing_input("test", test, "/opt/ml/processing/test"),
                jobs.code_input(spec)],
        outputs=[jobs.processing_output("evaluation", "/opt/ml/processing/evaluation",
                                        execution_uri(spec, "evaluation"))])
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path=EVALUATION_FILE)
    return ProcessingStep(name=EVALUATE, step_args=args, property_files=[report]), report, best_model


def _parameters(spec: TrainingPipelineSpec) -> dict[str, Any]:
    from sagemaker.core.workflow.parameters import ParameterInteger, ParameterString
    t = spec.training
    return {
        "InputDataUri": ParameterString(name="InputDataUri", default_value=spec.default_input_uri),
        "TrainingInstanceType": ParameterString(name="TrainingInstanceType",
                                                default_value=t.training_instance_type),
        "TrainingInstanceCount": ParameterInteger(name="TrainingInstanceCount",
                                                  default_value=t.instance_count),
    }


def _baseline_step(spec: TrainingPipelineSpec, session: Any, preprocess: Any, best_model: Any) -> Any:
    """Monitoring baseline of the train split (constructs/monitoring/baseline_step.py)."""
    from sagemaker.mlops.workflow.steps import ProcessingStep

    from ml_platform.constructs.monitoring import baseline_step as b
    processor = jobs.vpc_processor(spec, session, b.SCRIPT, spec.training.processing_instance_type)
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    args = processor.run(
        inputs=[jobs.processing_input("train", outputs["train"].S3Output.S3Uri, b.LOCAL["train"]),
                jobs.processing_input("test", outputs["test"].S3Output.S3Uri, b.LOCAL["test"]),
                jobs.processing_input("model", best_model, b.LOCAL["model"]),
                jobs.code_input(spec)],
        outputs=[jobs.processing_output("baseline", b.LOCAL["baseline"], execution_uri(spec, "baseline"))],
        arguments=list(spec.baseline_arguments or ()))
    return ProcessingStep(name=b.STEP_NAME, step_args=args)


def _approved_branch(spec: TrainingPipelineSpec, preprocess: Any, evaluate: Any, best_model: Any,
                     baseline: Any = None) -> list[Any]:
    """Register the model; optionally score the test split with it in a batch transform."""
    from sagemaker.core.workflow.functions import Join

    from ml_platform.constructs.training import training_pipeline_steps as steps
    p, t = spec.placement, spec.training
    container = steps.InferenceContainer(image_uri=spec.image_uri, model_data_url=best_model,
                                         region=spec.region)
    report_dir = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri
    drift = data_quality = None
    if baseline is not None:
        from ml_platform.constructs.monitoring.baseline_step import package_fields
        drift, data_quality = package_fields(
            baseline.properties.ProcessingOutputConfig.Outputs["baseline"].S3Output.S3Uri, Join)
    branch = [steps.register_model_step(
        name=REGISTER, group_name=spec.model_package_group, container=container,
        evaluation_report_uri=Join(on="/", values=[report_dir, EVALUATION_FILE]),
        realtime_instance_types=["ml.c5.large", "ml.c5.xlarge", "ml.c5.2xlarge"],
        transform_instance_types=[t.transform_instance_type],
        drift_check_baselines=drift, data_quality_metrics=data_quality)]
    if t.batch_transform:
        model = steps.create_model_step(name=MODEL, role_arn=spec.processing_role_arn, container=container,
                                        subnet_ids=list(p.subnet_ids), security_group_id=p.security_group_id)
        test = preprocess.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri
        branch += [model, steps.transform_step(
            name=TRANSFORM, model_name=model.properties.ModelName, input_uri=test,
            output_uri=execution_uri(spec, "transform"), instance_type=t.transform_instance_type,
            kms_key_arn=p.kms_key_arn)]
    return branch


def build_training_pipeline_definition(spec: TrainingPipelineSpec) -> dict[str, Any]:
    """The pipeline definition (a dict ready for `json.dumps`); makes no AWS or network call."""
    with offline(spec.region):
        return _build(spec, sdk())


def _build(spec: TrainingPipelineSpec, functions: Any) -> dict[str, Any]:
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    session, params = pipeline_session(spec.region, spec.artifacts_bucket), _parameters(spec)
    preprocess = _preprocess_step(spec, session, params)
    tuning = _tuning_step(spec, session, params, preprocess)
    evaluate, report, best_model = _evaluate_step(spec, session, preprocess, tuning)
    baseline = None if spec.baseline_arguments is None else _baseline_step(spec, session, preprocess, best_model)
    auc = functions.JsonGet(step_name=evaluate.name, property_file=report, json_path=AUC_JSON_PATH)
    check = ConditionStep(
        # The register step in the branch reads the baseline step's output: run the branch after it.
        name=CHECK, depends_on=[baseline] if baseline else None, conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=spec.training.min_auc_to_register)],
        if_steps=_approved_branch(spec, preprocess, evaluate, best_model, baseline),
        else_steps=[FailStep(name=FAIL, error_message=(
            f"Best model's AUC is below min_auc_to_register={spec.training.min_auc_to_register}"))])
    pipeline = Pipeline(name=spec.name, parameters=list(params.values()), pipeline_experiment_config=None,
                        steps=[preprocess, tuning, evaluate, *([baseline] if baseline else []), check],
                        sagemaker_session=session)
    definition = json.loads(pipeline.definition())
    definition = {k: v for k, v in definition.items() if v is not None}
    _harden_tuning_job(definition, spec.placement)
    return definition


def _harden_tuning_job(definition: dict[str, Any], placement: Placement) -> None:
    """Put back what SDK v3's tuner leaves out of the trial definition (see the module docstring)."""
    for step in definition["Steps"]:
        if step["Type"] == "Tuning":
            job = step["Arguments"]["TrainingJobDefinition"]
            job["EnableNetworkIsolation"] = True
            job["EnableInterContainerTrafficEncryption"] = True
            job["ResourceConfig"]["VolumeKmsKeyId"] = placement.kms_key_arn
