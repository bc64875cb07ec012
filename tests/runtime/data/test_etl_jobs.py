"""Both job entry scripts end to end on local files (the plain-Spark path; Glue-only calls are
behind `awsglue` imports that are absent here)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

GLUE_DIR = Path(__file__).resolve().parents[3] / "glue_jobs"
SCHEMA = Path(__file__).resolve().parents[3] / "lambda" / "firehose_transform" / "event_schema.json"


def _entry(name: str):
    spec = importlib.util.spec_from_file_location(f"glue_entry_{name}", GLUE_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _csv_lines(folder: Path) -> list[str]:
    return sorted(line for p in folder.iterdir() if p.name.startswith("part-")
                  for line in p.read_text().splitlines())


def test_jobs_chain_raw_to_training_csv_and_reuse_saved_stats(spark, synthetic, tmp_path, capsys):
    # GIVEN a messy raw zone (JSON Lines as Firehose writes them) and Glue-style arguments
    raw = synthetic.write_jsonl(synthetic.make_events(2000, seed=3, messy=True), tmp_path / "raw")
    curated, features, csv, stats = (tmp_path / p for p in ("curated", "features", "csv", "stats/stats.json"))
    glue_noise = ["--JOB_NAME", "raw_to_curated", "--job-bookmark-option", "job-bookmark-enable",
                  "--TempDir", "s3://tmp/"]

    # WHEN raw_to_curated runs
    summary = _entry("raw_to_curated").main([
        "--source_path", str(raw), "--target_path", str(curated), "--schema_path", str(SCHEMA),
        "--rejected_path", str(tmp_path / "rejected"), *glue_noise])

    # THEN valid rows land partitioned by event_date and rejected ones are counted and kept
    assert summary["curated_rows"] == 2000 and summary["rejected_rows"] == 20
    assert all(p.name.startswith("event_date=2024-0") for p in curated.iterdir() if p.is_dir())
    assert spark.read.parquet(str(tmp_path / "rejected")).count() == 20

    # WHEN curated_to_features runs twice: first fits the stats, then finds and applies them
    args = ["--source_path", str(curated), "--target_path", str(features), "--csv_output_path", str(csv),
            "--stats_path", str(stats), "--split_ratios", "0.8,0.1,0.1", "--minority_ratio", "0.25",
            "--seed", "7", "--hash_buckets", "8", *glue_noise]
    job = _entry("curated_to_features")
    first = job.main(args)
    first_csv = {s: _csv_lines(csv / s) for s in ("train", "validation", "test")}
    saved = stats.read_text()
    second = job.main(args[:-6] + ["--hash_buckets", "32", *glue_noise])

    # THEN the second run reused the artifact (same width despite other --hash_buckets) and
    # produced byte-identical CSV channels; each run logged one JSON summary line
    assert first["stats_fitted"] and not second["stats_fitted"]
    assert stats.read_text() == saved
    assert json.loads(saved)["hashed"]["merchant_id"]["buckets"] == 8
    assert {s: _csv_lines(csv / s) for s in ("train", "validation", "test")} == first_csv
    assert first["rows_by_split"] == second["rows_by_split"]
    # AND one completion marker (the retraining trigger) sits beside the channels, holding the summary
    assert json.loads((csv / "_SUCCESS").read_text())["rows_by_split"] == second["rows_by_split"]
    assert not list(csv.rglob("*/_SUCCESS")), "Spark's per-directory markers must stay off"
    assert sum(first["rows_by_split"].values()) > 0.8 * 2000
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"job_summary"' in line]
    assert [entry["job"] for entry in logged] == ["raw_to_curated", "curated_to_features", "curated_to_features"]
