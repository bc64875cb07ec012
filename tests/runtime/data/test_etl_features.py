"""curated -> training-ready transforms: split, fit-on-train, encode, resample, outputs."""
from __future__ import annotations

import math
import zlib

import pytest

N = 4000
RATIOS = (0.7, 0.15, 0.15)
SEED = 42
BUCKETS = 16


@pytest.fixture(scope="module")
def curated(spark, synthetic, event_schema, tmp_path_factory):
    import etl_curate
    import etl_runtime

    folder = synthetic.write_jsonl(synthetic.make_events(N, seed=5), tmp_path_factory.mktemp("raw"))
    raw = etl_runtime.read_source(etl_runtime.JobContext(spark=spark), str(folder), "json", "raw")
    return etl_curate.curate(raw, event_schema).curated.cache()


@pytest.fixture(scope="module")
def result(curated):
    import etl_features

    res = etl_features.build_features(curated, ratios=RATIOS, seed=SEED, minority_ratio=0.2,
                                      resample_method="oversample", hash_buckets=BUCKETS)
    res.features = res.features.cache()
    return res


@pytest.fixture(scope="module")
def split_rows(curated):
    import etl_split

    labelled = curated.filter("is_fraud is not null")
    df = etl_split.stratified_split(labelled, label="is_fraud", ratios=RATIOS, seed=SEED)
    return {r["event_id"]: (r["split"], r["is_fraud"]) for r in df.select("event_id", "split", "is_fraud").collect()}


def test_split_has_no_leakage_and_requested_proportions(split_rows):
    # GIVEN labelled curated rows  WHEN split 70/15/15
    n = len(split_rows)
    sizes = {s: sum(1 for v in split_rows.values() if v[0] == s) for s in ("train", "validation", "test")}

    # THEN each event_id is in exactly one split (dict keys) and sizes are within 1% of target
    assert sum(sizes.values()) == n
    for (name, size), ratio in zip(sizes.items(), RATIOS, strict=False):
        assert abs(size / n - ratio) < 0.01, name


def test_split_is_stratified(split_rows):
    # GIVEN ~3% positives  THEN each split's positive rate is within 0.5 points of the overall rate
    overall = sum(v[1] for v in split_rows.values()) / len(split_rows)
    assert 0.02 < overall < 0.05
    for name in ("train", "validation", "test"):
        labels = [v[1] for v in split_rows.values() if v[0] == name]
        assert abs(sum(labels) / len(labels) - overall) < 0.005, name


def test_split_is_reproducible_by_seed(curated, split_rows):
    # GIVEN the same rows split again with the same seed, and with another seed
    import etl_split

    labelled = curated.filter("is_fraud is not null")
    again = etl_split.stratified_split(labelled, label="is_fraud", ratios=RATIOS, seed=SEED)
    other = etl_split.stratified_split(labelled, label="is_fraud", ratios=RATIOS, seed=SEED + 1)

    # THEN the same seed gives the same assignment, another seed a different one
    same = {r[0]: r[1] for r in again.select("event_id", "split").collect()}
    assert same == {k: v[0] for k, v in split_rows.items()}
    moved = sum(1 for r in other.select("event_id", "split").collect() if r[1] != split_rows[r[0]][0])
    assert moved > len(split_rows) * 0.2


def test_stats_are_fitted_on_the_train_split_only(result, curated, split_rows):
    # GIVEN the fitted stats  THEN the imputation median is a middle value of TRAIN amounts
    stats = result.stats
    train_ids = [k for k, v in split_rows.items() if v[0] == "train"]
    assert stats["fit_rows"] == len(train_ids)
    train = curated.filter(curated.event_id.isin(train_ids))
    for col in ("amount", "account_age_days", "num_prev_transactions"):
        values = sorted(r[0] for r in train.select(col).dropna().collect())
        middle = {values[(len(values) - 1) // 2], values[len(values) // 2]}
        assert stats["numeric"][col]["median"] in middle, col


def test_missing_values_are_imputed_with_train_median_and_flagged(result, curated):
    # GIVEN rows whose account_age_days is missing  WHEN encoded
    st = result.stats["numeric"]["account_age_days"]
    missing_ids = [r[0] for r in curated.filter("account_age_days is null").select("event_id").collect()]
    rows = result.features.filter(result.features.event_id.isin(missing_ids)).collect()

    # THEN the indicator is 1 and the value is the scaled train median (0 after robust scaling)
    assert len(rows) > 100
    expected = (min(max(st["median"], st["lower"]), st["upper"]) - st["median_t"]) / st["iqr_t"]
    assert all(r["account_age_days__missing"] == 1 for r in rows)
    assert all(r["account_age_days"] == pytest.approx(expected) for r in rows)


def test_numeric_values_are_log_clipped_and_robust_scaled(result, curated):
    # GIVEN raw amounts and the fitted amount stats
    st = result.stats["numeric"]["amount"]
    assert st["log1p"] and st["lower"] < st["median_t"] < st["upper"]
    raw = {r[0]: r[1] for r in curated.select("event_id", "amount").collect()}
    encoded = result.features.select("event_id", "amount", "amount__missing").distinct().collect()

    # THEN each value is (clip(log1p(x), fences) - median_t) / iqr_t with train statistics
    clipped = 0
    for r in encoded:
        t = math.log1p(raw[r["event_id"]])
        bounded = min(max(t, st["lower"]), st["upper"])
        clipped += bounded != t
        assert r["amount"] == pytest.approx((bounded - st["median_t"]) / st["iqr_t"], abs=1e-9)
        assert r["amount__missing"] == 0
    assert clipped > 0  # the skewed tail really is clipped


def test_categorical_encodings_have_the_fitted_width_and_values(result, curated):
    # GIVEN the stats: one-hot vocabularies, binary widths, hash buckets
    stats = result.stats
    onehot, binary = stats["onehot"], stats["binary"]
    assert onehot["channel"] == ["pos", "web", "mobile"]
    assert binary["country"]["width"] == len(binary["country"]["vocabulary"]).bit_length()
    width = (3 * 2 + 2 + sum(len(v) + 1 for v in onehot.values())
             + sum(b["width"] for b in binary.values()) + BUCKETS)
    assert len(stats["feature_columns"]) == width
    assert result.features.columns == ["event_id", "split", "is_fraud", *stats["feature_columns"]]

    # WHEN rows are encoded THEN one-hots sum to 1, bits decode to the vocabulary index and
    # the hash bucket is zlib.crc32(merchant_id) % buckets (reproducible outside Spark)
    raw = {r["event_id"]: r for r in curated.collect()}
    vocab = binary["merchant_category"]["vocabulary"]
    for r in result.features.limit(500).collect():
        src = raw[r["event_id"]]
        for col, values in onehot.items():
            hot = [r[c] for c in stats["feature_columns"] if c.startswith(f"{col}__")]
            assert sum(hot) == 1
            assert r[f"{col}__other"] == (src[col] not in values)
        bits = [r[f"merchant_category__bit{b}"] for b in range(binary["merchant_category"]["width"])]
        index = sum(bit << b for b, bit in enumerate(bits))
        assert index == (vocab.index(src["merchant_category"]) + 1 if src["merchant_category"] in vocab else 0)
        hashed = [r[f"merchant_id__hash{i}"] for i in range(BUCKETS)]
        assert hashed.index(1) == zlib.crc32(src["merchant_id"].encode()) % BUCKETS and sum(hashed) == 1


def test_oversampling_reaches_the_target_ratio_on_train_only(result, split_rows):
    # GIVEN a 20% target minority ratio  WHEN train is oversampled
    counts = {(r[0], r[1]): r[2] for r in result.features.groupBy("split", "is_fraud").count().collect()}

    # THEN train is ~20% positive, and validation/test keep their original rows and rate
    train_rate = counts[("train", 1)] / (counts[("train", 1)] + counts[("train", 0)])
    assert abs(train_rate - 0.2) < 0.02
    for name in ("validation", "test"):
        original = [v[1] for v in split_rows.values() if v[0] == name]
        assert counts[(name, 1)] == sum(original)
        assert counts[(name, 0)] == len(original) - sum(original)


def test_undersampling_reaches_the_target_ratio(result):
    # GIVEN the encoded train split  WHEN undersampled to a 10% minority ratio
    import etl_resample

    train = result.features.filter("split = 'train'").dropDuplicates(["event_id"])
    out = etl_resample.resample(train, label="is_fraud", minority_ratio=0.1, seed=SEED, method="undersample")
    pos, total = out.filter("is_fraud = 1").count(), out.count()

    # THEN every positive is kept and the positive share is ~10%
    assert pos == train.filter("is_fraud = 1").count()
    assert abs(pos / total - 0.1) < 0.015


def test_saved_stats_reproduce_identical_output(result, curated):
    # GIVEN the stats saved as JSON and loaded back
    import etl_features
    import etl_stats

    loaded = etl_stats.loads(etl_stats.dumps(result.stats))
    assert loaded == result.stats

    # WHEN a run applies them instead of fitting
    again = etl_features.build_features(curated, ratios=RATIOS, seed=SEED, minority_ratio=0.2,
                                        resample_method="oversample", hash_buckets=999, stats=loaded)

    # THEN nothing is refitted and the output is identical row for row
    assert not again.fitted
    assert sorted(again.features.collect()) == sorted(result.features.collect())


def test_outputs_parquet_by_split_and_label_first_headerless_csv(result, tmp_path):
    # GIVEN the built features  WHEN written
    import etl_features

    counts = etl_features.write_features(result, target_path=str(tmp_path / "features"),
                                         csv_output_path=str(tmp_path / "csv"))

    # THEN Parquet has one folder per split, and each CSV channel has label-first numeric rows
    assert sorted(p.name for p in (tmp_path / "features").iterdir() if p.is_dir()) == [
        "split=test", "split=train", "split=validation"]
    width = 1 + len(result.stats["feature_columns"])
    for name in ("train", "validation", "test"):
        files = [p for p in (tmp_path / "csv" / name).iterdir() if p.name.startswith("part-")]
        assert files and not any(p.name.startswith("_SUCCESS") for p in (tmp_path / "csv" / name).iterdir())
        lines = [line for p in files for line in p.read_text().splitlines()]
        assert len(lines) == counts[name]
        first = lines[0].split(",")
        assert len(first) == width and first[0] in ("0", "1")  # no header: first line is data
        assert all(float(v) == float(v) for v in first)
    assert counts["train"] > counts["validation"] > 0
