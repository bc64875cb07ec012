"""The worker template, rendered by a Liquid engine with the task input the pre-annotation function
builds from a recorded event: the worker sees exactly the schema's fields and the label's choices."""
from __future__ import annotations

import copy
import importlib.util
import json
import sys
from html.parser import HTMLParser
from pathlib import Path

import liquid
import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "labeling_worker_template", ROOT / "ml_platform" / "constructs" / "labeling" / "worker_template.py")
worker_template = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = worker_template
_spec.loader.exec_module(worker_template)


class _TaskPage(HTMLParser):
    """Collects the table rows (field name -> shown value) and the classifier's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self.classifier: dict[str, str] = {}
        self.scripts: list[str] = []
        self._field: str | None = None
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "crowd-classifier":
            self.classifier = attrs
        elif tag == "script":
            self.scripts.append(attrs.get("src", ""))
        elif tag == "tr" and "data-field" in attrs:
            self._field = attrs["data-field"]
            self.rows[self._field] = ""
        elif tag == "td":
            self._in_td = True

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_td = False

    def handle_data(self, data):
        if self._in_td and self._field:
            self.rows[self._field] += data


def _render(template_text: str, task_input: dict) -> _TaskPage:
    env = liquid.Environment()
    # Ground Truth's own filters, as the worker portal applies them.
    env.filters["grant_read_access"] = lambda uri: f"https://presigned.example/{uri[5:]}"
    env.filters["to_json"] = json.dumps
    page = _TaskPage()
    page.feed(env.from_string(template_text).render(task={"input": task_input}))
    return page


@pytest.fixture(scope="module")
def schema() -> dict:
    return worker_template.load_event_schema()


def test_rendered_rows_are_the_schema_fields_without_the_label(schema, pre_annotation, load_event):
    # GIVEN the template rendered from the schema and the task input built from a recorded event
    event = load_event("labeling_pre_annotation_source.json")
    task_input = pre_annotation.handler(event, None)["taskInput"]
    # WHEN the portal renders it for a worker
    page = _render(worker_template.render_worker_template(schema, "is_fraud"), task_input)
    # THEN the rows are the schema's fields in schema order, the label excluded, showing the record's values
    expected = [f["name"] for f in schema["fields"] if f["name"] != "is_fraud"]
    assert list(page.rows) == expected
    record = json.loads(event["dataObject"]["source"])
    assert page.rows == {name: str(record[name]) for name in expected}


def test_choices_are_the_label_fields_allowed_values(schema, pre_annotation, load_event):
    task_input = pre_annotation.handler(load_event("labeling_pre_annotation_source.json"), None)["taskInput"]
    page = _render(worker_template.render_worker_template(schema, "is_fraud"), task_input)
    label = next(f for f in schema["fields"] if f["name"] == "is_fraud")
    assert json.loads(page.classifier["categories"]) == [str(v) for v in label["allowed"]]
    # the answer key is what the consolidation function reads by default
    assert page.classifier["name"] == "category"
    assert page.scripts == ["https://assets.crowd.aws/crowd-html-elements.js"]


def test_a_field_added_to_the_schema_appears_without_editing_html(schema, pre_annotation, load_event):
    # GIVEN a schema with one more field and a record that has it
    bigger = copy.deepcopy(schema)
    bigger["fields"].insert(3, {"name": "card_bin", "type": "string", "required": False, "comment": "first six digits"})
    event = load_event("labeling_pre_annotation_source.json")
    record = json.loads(event["dataObject"]["source"]) | {"card_bin": "411111"}
    task_input = pre_annotation.handler(event | {"dataObject": {"source": json.dumps(record)}}, None)["taskInput"]
    # THEN the rendered task shows it in its schema position
    page = _render(worker_template.render_worker_template(bigger, "is_fraud"), task_input)
    assert list(page.rows)[3] == "card_bin" and page.rows["card_bin"] == "411111"


def test_values_are_escaped_so_a_record_cannot_inject_markup(schema):
    page = _render(worker_template.render_worker_template(schema, "is_fraud"),
                   {"record": {"merchant_id": "<script>alert(1)</script>"}})
    assert page.rows["merchant_id"] == "<script>alert(1)</script>"  # text, not a tag
    assert page.scripts == ["https://assets.crowd.aws/crowd-html-elements.js"]


def test_source_ref_objects_get_a_presigned_link(schema):
    text = worker_template.render_worker_template(schema, "is_fraud")
    env = liquid.Environment()
    env.filters["grant_read_access"] = lambda uri: f"https://presigned.example/{uri[5:]}"
    out = env.from_string(text).render(task={"input": {"taskObject": "s3://raw/labeling/evt-1.json"}})
    assert 'href="https://presigned.example/raw/labeling/evt-1.json"' in out and "<table" not in out


@pytest.mark.parametrize("label, reason", [("nope", "is not a field"), ("amount", "no 'allowed' values")])
def test_unusable_label_field_is_refused(schema, label, reason):
    with pytest.raises(ValueError, match=reason):
        worker_template.render_worker_template(schema, label)
