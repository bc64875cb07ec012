"""Producer -> Kinesis -> Firehose transform Lambda -> raw zone, as the Ingestion stack wires it.

The events go through the real transform handler (loaded from the synthesized function's asset,
with its environment), in Kinesis-source Firehose batches; Ok records are converted to Parquet with
the columns and types of the Glue table named by the delivery stream's SchemaConfiguration and written
under its `Prefix` with `partitionKeyFromLambda` substituted, as dynamic partitioning does; failed
records land under `ErrorOutputPrefix` as Firehose writes them.
"""
from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import sys
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rehearsal.assembly import Assembly
from rehearsal.local_s3 import LocalS3

GLUE_TO_ARROW = {"string": pa.string(), "timestamp": pa.timestamp("ms", tz="UTC"), "double": pa.float64(),
                 "float": pa.float32(), "int": pa.int32(), "bigint": pa.int64(), "boolean": pa.bool_()}
BATCH = 500


def _load_transform(assembly: Assembly, function: dict):
    folder, _ = assembly.assets[function["Code"]["S3Key"]]
    module_file, _, attribute = function["Handler"].rpartition(".")
    os.environ.update(function.get("Environment", {}).get("Variables", {}))
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("rehearsal_firehose_transform", folder / f"{module_file}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, attribute)


def _firehose_event(events: list[dict], offset: int) -> dict:
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    records = []
    for i, event in enumerate(events):
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        records.append({"recordId": f"{offset + i:020d}", "approximateArrivalTimestamp": now,
                        "data": base64.b64encode(data).decode(),
                        "kinesisRecordMetadata": {"sequenceNumber": f"{offset + i:056d}", "subsequenceNumber": 0,
                                                  "partitionKey": str(uuid.uuid4()), "shardId": "shardId-000000000000",
                                                  "approximateArrivalTimestamp": now}})
    return {"invocationId": str(uuid.uuid4()), "region": "eu-west-1", "records": records,
            "sourceKinesisStreamArn": "arn:aws:kinesis:eu-west-1:111111111111:stream/rehearsal"}


def _columns(assembly: Assembly, schema_config: dict) -> list[tuple[str, pa.DataType]]:
    for table in assembly.resources("AWS::Glue::Table"):
        props = table.properties
        if props["DatabaseName"] == schema_config["DatabaseName"] and props["TableInput"]["Name"] == schema_config["TableName"]:
            return [(c["Name"], GLUE_TO_ARROW[c["Type"]]) for c in props["TableInput"]["StorageDescriptor"]["Columns"]]
    raise LookupError(f"no Glue table {schema_config['DatabaseName']}.{schema_config['TableName']}")


def _to_parquet(rows: list[dict], columns: list[tuple[str, pa.DataType]], path: Path) -> None:
    arrays = []
    for name, type_ in columns:
        values = [row.get(name) for row in rows]
        if pa.types.is_timestamp(type_):
            values = [None if v is None else datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values]
        arrays.append(pa.array(values, type=type_))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(arrays, names=[n for n, _ in columns]), path, compression="snappy")


def _partition_prefix(template: str, keys: dict[str, str]) -> str:
    """The object prefix dynamic partitioning makes of `template` for one record's keys."""
    return re.sub(r"!\{partitionKeyFromLambda:([^}]+)\}", lambda m: keys[m.group(1)], template)


def deliver(assembly: Assembly, s3: LocalS3, events: list, log: Path) -> dict:
    """Send `events` (dicts, or raw bytes for malformed producers) through the delivery stream."""
    stream = next(assembly.resources("AWS::KinesisFirehose::DeliveryStream"))
    destination = stream.properties["ExtendedS3DestinationConfiguration"]
    bucket = destination["BucketARN"].split(":::")[1]
    processor = destination["ProcessingConfiguration"]["Processors"][0]
    function_ref = next(p["ParameterValue"] for p in processor["Parameters"] if p["ParameterName"] == "LambdaArn")
    function = assembly.templates[stream.stack]["Resources"][function_ref["Fn::GetAtt"][0]]["Properties"]
    transform = _load_transform(assembly, function)
    log.parent.mkdir(parents=True, exist_ok=True)
    conversion = destination["DataFormatConversionConfiguration"]
    assert "ParquetSerDe" in conversion["OutputFormatConfiguration"]["Serializer"], "rehearsal expects Parquet output"
    columns = _columns(assembly, conversion["SchemaConfiguration"])
    partitions: dict[str, list[dict]] = defaultdict(list)
    failed: list[dict] = []
    results: Counter = Counter()
    for offset in range(0, len(events), BATCH):
        request = _firehose_event(events[offset:offset + BATCH], offset)
        with log.open("a") as out, contextlib.redirect_stdout(out):  # the function's CloudWatch log
            response = transform(request, None)
        assert [r["recordId"] for r in response["records"]] == [r["recordId"] for r in request["records"]], \
            "the transform must return every recordId once, in order"
        for record, original in zip(response["records"], request["records"], strict=True):
            results[record["result"]] += 1
            if record["result"] == "Ok":
                prefix = _partition_prefix(destination["Prefix"], record["metadata"]["partitionKeys"])
                partitions[prefix].append(json.loads(base64.b64decode(record["data"])))
            elif record["result"] == "ProcessingFailed":
                failed.append({"attemptsMade": 1, "errorCode": "Lambda.FunctionError", "rawData": original["data"],
                               "errorMessage": base64.b64decode(record["data"]).decode()})
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
    for prefix, rows in partitions.items():
        # Firehose names objects <stream>-<version>-<timestamp>-<uuid>, with no extension.
        _to_parquet(rows, columns, s3.path(f"s3://{bucket}/{prefix}rehearsal-1-{stamp}-{uuid.uuid4()}"))
    if failed:
        error_prefix = destination["ErrorOutputPrefix"].replace("!{firehose:error-output-type}", "processing-failed")
        error_prefix = error_prefix.replace("!{timestamp:yyyy-MM-dd}", stamp[:10])
        target = s3.path(f"s3://{bucket}/{error_prefix}rehearsal-1-{stamp}-{uuid.uuid4()}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(json.dumps(f) + "\n" for f in failed))
    return {"records": len(events), "by_result": dict(results), "partitions": len(partitions),
            "raw_uri": f"s3://{bucket}/{destination['Prefix'].split('!')[0]}"}
