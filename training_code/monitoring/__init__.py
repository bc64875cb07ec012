"""Our model monitor: the code of the baseline step and of the scheduled monitoring job.

Runs as SageMaker Processing jobs from the same code bundle as the rest of `training_code/`
(entries `baseline.py` and `monitor.py` at the bundle root), with numpy and the standard library
only (boto3 where metrics are published directly). Files it reads and writes use SageMaker Model
Monitor's formats, so either engine can use the other's baseline:

- `statistics.json`, `constraints.json`: per-feature statistics and constraints of the baseline
  (and `statistics.json` of each monitored window), as Model Monitor's data-quality container
  writes them; `prediction_statistics.json` is the same shape for the model's output.
- data capture: JSON Lines as endpoints write them (`captureData.endpointInput/endpointOutput`,
  `CSV`/`JSON`/`BASE64` encodings, `eventMetadata.eventId`/`inferenceId`/`inferenceTime`).
- ground truth: JSON Lines `{"groundTruthData": {"data": "1", "encoding": "CSV"},
  "eventMetadata": {"eventId": "<inferenceId or eventId of the capture>"}, "eventVersion": "0"}`.
- `constraint_violations.json`: `{"violations": [{"feature_name", "constraint_check_type",
  "description"}]}`, model-quality violations with `metric_name`.
"""
