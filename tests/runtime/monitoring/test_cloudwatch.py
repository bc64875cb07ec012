"""CloudWatch metrics of a run: names, dimensions, batching, and the calls made (botocore Stubber)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
from botocore.stub import Stubber

from monitoring import cloudwatch

WHEN = datetime(2026, 12, 1, 21, 0, tzinfo=timezone.utc)


def _summary(features: int = 2) -> dict:
    return {"endpoint": "dev-ml-endpoint", "records_read": 120, "malformed_records": 3, "rows": 117,
            "violations": [{"feature_name": "_c1"}], "drifted_features": ["_c1"], "prediction_drift": 0.04,
            "features": [{"name": f"_c{i}", "distance": 0.02 + 0.3 * (i == 1), "missing_ratio": 0.0}
                         for i in range(features)],
            "model_quality": {"rows": 80, "violations": [], "metrics": {"auc": 0.91, "f1": 0.8, "r2": float("nan")}}}


def test_metrics_carry_the_documented_names_and_dimensions():
    data = cloudwatch.metric_data(_summary(), WHEN)
    by_name = {}
    for d in data:
        by_name.setdefault(d["MetricName"], []).append(d)
    assert by_name["DriftedFeatures"][0]["Value"] == 1.0
    assert by_name["DriftedFeatures"][0]["Dimensions"] == [{"Name": "Endpoint", "Value": "dev-ml-endpoint"}]
    assert [d["Dimensions"][1] for d in by_name["FeatureDrift"]] == [
        {"Name": "Feature", "Value": "_c0"}, {"Name": "Feature", "Value": "_c1"}]
    assert by_name["MaxFeatureDrift"][0]["Value"] == 0.32
    assert by_name["AUC"][0]["Value"] == 0.91 and "R2" not in by_name  # NaN is never sent
    assert by_name["MalformedRecords"][0]["Unit"] == "Count"


def test_publish_sends_put_metric_data_in_batches():
    data = cloudwatch.metric_data(_summary(features=400), WHEN)
    assert len(data) > cloudwatch.BATCH
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_response("put_metric_data", {}, {"Namespace": cloudwatch.NAMESPACE,
                                                  "MetricData": data[:cloudwatch.BATCH]})
        stub.add_response("put_metric_data", {}, {"Namespace": cloudwatch.NAMESPACE,
                                                  "MetricData": data[cloudwatch.BATCH:]})
        assert cloudwatch.publish(client, data) == 2
        stub.assert_no_pending_responses()


def test_the_metrics_file_round_trips_to_the_same_request():
    data = cloudwatch.metric_data(_summary(), WHEN)
    namespace, back = cloudwatch.from_json(json.loads(json.dumps(cloudwatch.to_json(data))))
    assert namespace == "MLPlatform/ModelMonitoring" and back == data
