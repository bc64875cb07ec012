"""SageMaker Clarify analysis configurations for bias drift and feature-attribution drift, built
at synth from configuration (no AWS call).

Features are named by position as the baseline names them (`_c<i>`, headerless CSV capture);
the label is the merged ground truth. Clarify computes bias and SHAP values by calling a model:
its monitoring jobs start a shadow endpoint from the deployed model (`predictor.model_name`),
which is only known once a model is deployed, so the monitoring function writes each
configuration with `predictor.model_name` filled in when the endpoint comes InService
(`MODEL_NAME_PLACEHOLDER` marks the spot). Everything else is fixed here.
"""
from __future__ import annotations

from typing import Any

from ml_platform.config_sections.monitoring import ClarifyConfig, ProblemType

MODEL_NAME_PLACEHOLDER = "{{deployed_model_name}}"
_PROBABILITY_THRESHOLD = 0.5


def _predictor(instance_type: str) -> dict[str, Any]:
    # The shadow endpoint Clarify starts: same CSV contract as the real endpoint.
    return {"model_name": MODEL_NAME_PLACEHOLDER, "instance_type": instance_type, "initial_instance_count": 1,
            "content_type": "text/csv", "accept_type": "text/csv"}


def bias_config(clarify: ClarifyConfig, problem_type: ProblemType, instance_type: str) -> dict[str, Any] | None:
    """Post-training bias of the facet `_c<bias_facet_index>`; None without a facet (skipped)."""
    if clarify.bias_facet_index is None:
        return None
    facet: dict[str, Any] = {"name_or_index": clarify.bias_facet_index}
    if clarify.bias_facet_threshold is not None:
        facet["value_or_threshold"] = [clarify.bias_facet_threshold]
    config: dict[str, Any] = {"version": "1.0", "dataset_type": "text/csv", "label_values_or_threshold": [1],
              "facet": [facet], "methods": {"post_training_bias": {"methods": "all"}},
              "predictor": _predictor(instance_type)}
    if problem_type == "BinaryClassification":
        config["probability_threshold"] = _PROBABILITY_THRESHOLD
    return config


def explainability_config(clarify: ClarifyConfig, instance_type: str) -> dict[str, Any] | None:
    """Kernel SHAP on the capture, its baseline one k-means cluster centre of the data (the
    feature count is unknown at synth, so no fixed baseline row can be written)."""
    if not clarify.feature_attribution:
        return None
    return {"version": "1.0", "dataset_type": "text/csv",
            "methods": {"shap": {"num_clusters": 1, "num_samples": clarify.shap_samples, "agg_method": "mean_abs",
                                 "use_logit": False, "save_local_shap_values": False}},
            "predictor": _predictor(instance_type)}
