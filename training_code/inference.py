"""Script-mode handlers for the AWS XGBoost framework container (``entry_point="inference.py"``).

The container's inference toolkit calls ``model_fn(model_dir)`` once per worker, then for each
request ``input_fn(body, content_type)`` -> ``predict_fn(data, model)`` -> ``output_fn(prediction,
accept)``. It decodes text/csv and application/json bodies to ``str`` before ``input_fn``; other
types arrive as bytes. Any exception becomes a 500 unless it is a
``sagemaker_inference.errors.BaseInferenceToolkitError``, whose ``status_code`` is used: bad
requests therefore raise ``BadRequest`` (a subclass) to reach the client as 4xx.

Our own server (serve.py) uses the same codec, model and output encoding, so both paths answer
alike. An empty body raises the toolkit error with status 204, the built-in's answer to it.
"""
from __future__ import annotations

import os

import numpy as np

import serving_codec as codec
import serving_output as output
from serving_model import ServedModel, load_model
from serving_output import OutputSpec

try:  # inside the AWS container
    from sagemaker_inference.errors import BaseInferenceToolkitError
except ImportError:  # anywhere else: same constructor and attributes
    class BaseInferenceToolkitError(Exception):  # type: ignore[no-redef]
        """Stand-in for sagemaker_inference.errors.BaseInferenceToolkitError."""

        def __init__(self, status_code: int, message: str, phrase: str):
            super().__init__(status_code, message, phrase)
            self.status_code, self.message, self.phrase = status_code, message, phrase


class BadRequest(BaseInferenceToolkitError):
    """A client error the toolkit returns with its 4xx status and one-line reason."""

    def __init__(self, error: codec.RequestError):
        super().__init__(error.status, error.reason, error.reason)


# input_fn has no model argument, yet parsing CSV/LIBSVM needs the feature count: model_fn
# records it here (the toolkit calls model_fn before the first input_fn in each worker).
_n_features: int | None = None
_output: OutputSpec | None = None


def model_fn(model_dir: str) -> ServedModel:
    """Load the model directory (one booster, or the kfold ensemble), evaluators verified."""
    global _n_features, _output
    fast = os.environ.get("SERVING_FAST_MAX_ROWS")
    model = load_model(model_dir, fast_max_rows=int(fast) if fast else None)
    _n_features, _output = model.n_features, model.output
    return model


def input_fn(request_body: bytes | str, request_content_type: str | None) -> np.ndarray:
    """Decode a CSV, LIBSVM, RecordIO-protobuf, JSON or NPY body into float32 rows."""
    if _n_features is None:
        raise BaseInferenceToolkitError(503, "model not loaded", "model not loaded")
    if codec.is_empty(request_body):  # the built-in answers an empty body with 204 No Content
        raise BaseInferenceToolkitError(204, "", "No Content")
    try:
        return codec.decode(request_body, request_content_type, _n_features)
    except codec.RequestError as error:
        raise BadRequest(error) from None


def predict_fn(input_data: np.ndarray, model: ServedModel) -> np.ndarray:
    """Predict rows from ``input_fn``: probabilities, class scores or regression values."""
    return model.predict(input_data)


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """Serialize as the built-in does (serving_output); returns (body, content type)."""
    default = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or codec.CSV
    try:
        kind = output.choose_accept(accept, default)
    except codec.RequestError as error:
        raise BadRequest(error) from None
    return output.encode(prediction, kind, _output or OutputSpec("unknown"))
