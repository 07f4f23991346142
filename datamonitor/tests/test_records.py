"""KPI records, the document builder and deterministic ids."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamonitor import KpiRecord, PayloadError
from datamonitor.encoder import Encoder
from datamonitor.records import (
    ID_VERSION,
    document_id,
    dumps,
    format_timestamp,
    index_name,
    parse_timestamp,
    to_document,
)
from datamonitor.templates import mapping

T0 = datetime(2026, 11, 23, 10, 30, 15, 123456, tzinfo=timezone.utc)


def _leaf_paths(doc: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, val in doc.items():
        path = f"{prefix}{key}"
        if isinstance(val, dict) and path != "labels":
            out.update(_leaf_paths(val, path + "."))
        else:
            out[path] = val
    return out


def _mapped_types(props: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, spec in props.items():
        if "properties" in spec:
            out.update(_mapped_types(spec["properties"], f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = spec["type"]
    return out


def test_document_uses_ecs_names_and_fixed_kpi_fields() -> None:
    rec = KpiRecord(name="file.rows", value=336776, unit="rows", subject="flights.csv", dataset="datamonitor.file",
                    timestamp=T0, host="node-1", file_path="/data/in/flights.csv", file_size=33_000_000,
                    labels={"team": "ops"})
    doc = to_document(rec)
    assert doc["@timestamp"] == "2026-11-23T10:30:15.123Z"
    assert doc["host"] == {"name": "node-1"}
    assert doc["event"] == {"dataset": "datamonitor.file", "kind": "metric", "module": "datamonitor"}
    assert doc["file"] == {"path": "/data/in/flights.csv", "name": "flights.csv", "extension": "csv", "size": 33_000_000}
    assert doc["kpi"] == {"name": "file.rows", "value": 336776, "unit": "rows", "subject": "flights.csv"}
    assert doc["labels"] == {"team": "ops"}


def test_golden_document_fits_the_shipped_mapping() -> None:
    """Every field a document can carry is mapped, with a type its value fits."""
    rec = KpiRecord(name="n", value=1.5, unit="u", text="t", subject="s", timestamp=T0, host="h",
                    file_path="/a/b.csv", file_size=3, labels={"k": "v"}, message="m")
    types = _mapped_types(mapping()["properties"])
    checks = {"keyword": str, "text": str, "date": str, "double": (int, float), "long": int, "integer": int,
              "flattened": dict}
    for path, value in _leaf_paths(to_document(rec)).items():
        assert path in types, f"{path} is not in the mapping"
        assert isinstance(value, checks[types[path]]), f"{path}={value!r} does not fit {types[path]}"


def test_mapping_is_fixed_for_any_number_of_columns() -> None:
    """500 columns are 500 values of kpi.subject, never 500 new fields."""
    m = mapping()
    assert m["dynamic"] is False
    paths = set()
    for i in range(500):
        paths |= set(_leaf_paths(to_document(KpiRecord(name="column.null_count", value=i, subject=f"col{i}"))))
    assert paths <= set(_mapped_types(m["properties"]))


def test_same_observation_same_id_and_value_does_not_count() -> None:
    a = KpiRecord(name="rows", value=1, timestamp=T0, host="h")
    b = KpiRecord(name="rows", value=2, timestamp=T0, host="h")
    assert document_id(a) == document_id(b)
    assert len(document_id(a)) == 40


@pytest.mark.parametrize("change", [
    {"timestamp": T0 + timedelta(milliseconds=1)}, {"name": "other"}, {"subject": "c"}, {"host": "h2"},
    {"dataset": "d"}, {"file_path": "/x"}, {"labels": {"a": "b"}},
])
def test_identity_fields_change_the_id(change: dict) -> None:
    base = {"name": "rows", "value": 1, "timestamp": T0, "host": "h"}
    assert document_id(KpiRecord(**base)) != document_id(KpiRecord(**{**base, **change}))


def test_legacy_payload_is_named_after_its_unit_and_value_is_numeric() -> None:
    rec = KpiRecord.from_payload({"unit": "nb_of_rows", "value": "6543"})
    assert (rec.name, rec.unit, rec.value) == ("nb_of_rows", "nb_of_rows", 6543)


def test_payload_accepts_flat_dotted_and_whole_documents() -> None:
    flat = KpiRecord.from_payload({"name": "rows", "value": 3.5, "timestamp": "2026-11-23T10:30:15.123Z",
                                   "host": "h", "file.path": "/d/x.csv", "team": "ops", "on": True})
    assert flat.file_path == "/d/x.csv" and flat.labels == {"team": "ops", "on": "true"}
    again = KpiRecord.from_payload(to_document(flat))
    assert again == flat and document_id(again) == document_id(flat)


def test_non_numeric_value_becomes_text() -> None:
    rec = KpiRecord.from_payload({"name": "schema", "value": "a:int,b:str"})
    assert rec.value is None and rec.text == "a:int,b:str"


@pytest.mark.parametrize("payload, field", [
    ({"value": 1}, "name"),
    ({"name": "x", "value": float("nan")}, "value"),
    ({"name": "x", "value": "inf"}, "value"),
    ({"name": "x", "value": [1]}, "value"),
    ({"name": "x", "timestamp": "yesterday"}, "timestamp"),
    ({"name": "x", "extra": {"deep": [1]}}, "extra.deep"),
    ({"name": "x", "labels": {"a": {"b": 1}}}, "labels.a"),
    ({"name": "", "value": 1}, "name"),
    ({"name": "x" * 300}, "name"),
])
def test_bad_payload_names_the_field(payload: dict, field: str) -> None:
    with pytest.raises(PayloadError, match=f"'{field}'"):
        KpiRecord.from_payload(payload)


def test_payload_must_be_an_object() -> None:
    with pytest.raises(PayloadError, match="JSON object"):
        KpiRecord.from_payload([1, 2])  # type: ignore[arg-type]


def test_timestamps_are_utc_with_z() -> None:
    assert parse_timestamp("2026-11-23T12:00:00+02:00") == datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    assert parse_timestamp("2026-11-23T10:00:00") == datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    assert parse_timestamp(0) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    naive = KpiRecord(name="x", timestamp=datetime(2026, 1, 2, 3, 4, 5))
    assert to_document(naive)["@timestamp"] == "2026-01-02T03:04:05.000Z"


def test_json_is_compact_and_deterministic() -> None:
    doc = to_document(KpiRecord(name="é", value=1, timestamp=T0, host="h"))
    text = dumps(doc)
    assert " " not in text and "é" in text
    assert text == dumps(json.loads(text))
    with pytest.raises(ValueError):
        dumps({"v": float("nan")})


def test_index_follows_the_document_time_not_the_clock() -> None:
    assert index_name("dm-kpi", "month", T0) == "dm-kpi-2026.11"
    assert index_name("dm-kpi", "day", T0) == "dm-kpi-2026.11.23"
    assert index_name("dm-kpi", "none", T0) == "dm-kpi"


def test_records_made_back_to_back_never_share_an_id() -> None:
    made = [KpiRecord(name="x", value=i) for i in range(2000)]
    assert len({document_id(r) for r in made}) == 2000


def test_records_are_frozen_and_hashable() -> None:
    rec = KpiRecord(name="x", labels={"b": "2", "a": "1"})
    with pytest.raises(AttributeError):
        rec.name = "y"  # type: ignore[misc]
    assert list(rec.labels) == ["a", "b"]
    assert len({rec, rec}) == 1


# ---------------------------------------------------------------- ids, versions and the store's rows

def _oracle_identity(rec: KpiRecord) -> str:
    """The identity as docs/schema.rst defines it, written here independently of records.py."""
    identity = {"t": rec.timestamp.isoformat(timespec="microseconds"), "n": rec.name, "s": rec.subject,
                "d": rec.dataset, "h": rec.host, "f": rec.file_path, "l": dict(rec.labels)}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_version_2_id_is_the_utc_instant_then_the_identity_hash() -> None:
    rec = KpiRecord(name="rows", value=1, timestamp=T0, host="h")
    assert document_id(rec) == "20261123103015123456" + _oracle_identity(rec)[:20]
    assert ID_VERSION == 2


def test_version_1_id_is_unchanged_so_old_stores_still_recognise_a_resent_observation() -> None:
    rec = KpiRecord(name="rows", value=1, timestamp=T0, host="h", file_path="/d/x.csv", labels={"b": "2", "a": "1"})
    assert document_id(rec, version=1) == _oracle_identity(rec)[:40]
    # pinned: the id a version 1 store holds for this observation
    assert document_id(KpiRecord(name="rows", timestamp=T0, host="h"), version=1) == _oracle_identity(
        KpiRecord(name="rows", timestamp=T0, host="h"))[:40]


def test_ids_made_in_time_order_sort_in_time_order() -> None:
    made = [KpiRecord(name="x", value=i, subject=f"s{i % 7}") for i in range(500)]
    ids = [document_id(r) for r in made]
    assert ids == sorted(ids)


_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_records = st.builds(
    KpiRecord,
    name=_text.filter(str.strip),
    value=st.none() | st.integers(-2**80, 2**80) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans(),
    unit=st.none() | _text, text=st.none() | _text, subject=st.none() | _text, dataset=_text, host=_text,
    timestamp=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc)),
    file_path=st.none() | _text, file_size=st.none() | st.integers(0, 2**62),
    labels=st.dictionaries(_text, _text, max_size=3), message=st.none() | _text,
)


@settings(max_examples=300, deadline=None)
@given(rec=_records, period=st.sampled_from(["month", "day", "none"]), twice=st.booleans())
def test_the_store_row_is_exactly_the_document_builder_s_json_and_id(rec: KpiRecord, period: str,
                                                                    twice: bool) -> None:
    enc = Encoder("dm-kpi", period)
    if twice:  # the per-timestamp and per-file parts come from the caches the second time
        enc.row(rec)
    doc_id, index, ts, name, body = enc.row(rec)
    assert json.loads(body) == to_document(rec)
    assert body == dumps(to_document(rec))
    assert doc_id == document_id(rec) and doc_id.endswith(_oracle_identity(rec)[:20])
    assert (index, ts, name) == (index_name("dm-kpi", period, rec.timestamp), format_timestamp(rec.timestamp), rec.name)
    assert enc.row(rec, "explicit")[1] == "explicit"


def test_an_old_store_s_observations_keep_version_1_ids_and_later_ones_get_version_2() -> None:
    before, after = KpiRecord(name="x", timestamp=T0, host="h"), KpiRecord(name="x", timestamp=T0 + timedelta(seconds=1))
    enc = Encoder("dm-kpi", "month", legacy_ids_until=format_timestamp(T0))
    assert enc.row(before)[0] == document_id(before, version=1)
    assert enc.row(after)[0] == document_id(after)


def test_a_field_that_is_not_a_string_still_gives_the_builder_s_row() -> None:
    rec = KpiRecord(name="column.nulls", value=1, subject=0, timestamp=T0, host="h")  # type: ignore[arg-type]
    doc_id, _index, _ts, _name, body = Encoder("dm-kpi", "month").row(rec)
    assert body == dumps(to_document(rec)) and doc_id == document_id(rec)


def test_every_field_name_is_a_mapped_field_of_the_documents() -> None:
    from datamonitor.records import Field

    rec = KpiRecord(name="n", value=1.5, unit="u", text="t", subject="s", timestamp=T0, host="h",
                    file_path="/a/b.csv", file_size=3, labels={"k": "v"}, message="m",
                    expected=1.0, lower=0.5, upper=2.0, score=0.4, deciles=tuple(float(i) for i in range(11)))
    written = _leaf_paths(to_document(rec))
    types = _mapped_types(mapping()["properties"])
    names = [v for k, v in vars(Field).items() if k.isupper()]
    assert len(names) == 18
    for name in names:
        assert name in written and name in types, name


@settings(max_examples=200, deadline=None)
@given(rec=_records)
def test_read_gives_a_document_s_fields_back_as_the_record_had_them(rec: KpiRecord) -> None:
    from datamonitor.records import read

    fields = read(json.loads(dumps(to_document(rec))))
    value = int(rec.value) if isinstance(rec.value, bool) else rec.value
    assert (fields.name, fields.value, fields.unit, fields.text, fields.subject) == (
        rec.name, value, rec.unit, rec.text, rec.subject)
    assert (fields.dataset, fields.host, fields.file_path, fields.message) == (
        rec.dataset, rec.host, rec.file_path, rec.message)
    assert dict(fields.labels) == dict(rec.labels) and fields.timestamp == format_timestamp(rec.timestamp)
    if rec.timestamp.year >= 1000:  # strftime does not pad earlier years, and ISO-8601 wants four digits
        assert fields.when == rec.timestamp.replace(microsecond=rec.timestamp.microsecond // 1000 * 1000)
    if rec.file_path is not None:
        assert fields.file_name == rec.file_path.replace("\\", "/").rsplit("/", 1)[-1]
        assert fields.file_size == rec.file_size


@pytest.mark.parametrize("path, key", [
    ("/in/sales_2026-11-01.csv", "/in/sales_#-#-#.csv"),
    ("in/flights_7.csv.gz", "in/flights_#.csv.gz"),
    ("plain.csv", "plain.csv"),
    ("/2026/11/a1b22.tsv", "/2026/11/a#b#.tsv"),  # digits in the folders are the folder's, not the pattern's
])
def test_dataset_key_turns_the_digits_of_the_name_into_hashes(path: str, key: str) -> None:
    from pathlib import Path

    from datamonitor.records import dataset_key
    from datamonitor.sources import files

    assert dataset_key(path) == dataset_key(Path(path)) == key
    assert files.dataset_key is dataset_key, "one definition, re-exported"


@pytest.mark.parametrize("field", ["name", "subject", "file_path", "unit", "text"])
def test_a_lone_surrogate_is_a_payload_error_not_a_crash_later(field: str) -> None:
    """JSON's escapes (\\ud800) and a non-UTF-8 file name decoded with surrogateescape give strings UTF-8 cannot
    write: the store's encode and the id's hash raised UnicodeEncodeError (a UDP listener stopped on one)."""
    fields = {"name": "x", "value": 1, field: "bad\udcff"}
    with pytest.raises(PayloadError, match=f"field '{field}'.*lone surrogate"):
        KpiRecord(**fields)
    with pytest.raises(PayloadError, match=r"field 'labels\.k'"):
        KpiRecord(name="x", value=1, labels={"k": "v\ud800"})
    assert KpiRecord(name="x", value=1, subject="naïve ✓").subject == "naïve ✓"


@pytest.mark.parametrize("value", [10**400, -(10**309), "1" + "0" * 400], ids=["int", "negative", "text"])
def test_an_integer_past_the_largest_float_is_a_payload_error(value: object) -> None:
    """It has no mean, no baseline and no double in the index: the baseline raised OverflowError (a UDP listener
    stopped on one)."""
    with pytest.raises(PayloadError, match="past the largest float"):
        KpiRecord.from_payload({"name": "x", "value": value})
    assert KpiRecord(name="x", value=2**1000).value == 2**1000
