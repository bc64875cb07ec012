"""The worker task template for classifying one platform event, rendered from event_schema.json.

Ground Truth custom tasks take a Liquid template with Crowd HTML Elements
(docs.aws.amazon.com/sagemaker/latest/dg/sms-custom-templates-step2.html). The rows shown to a worker
are the schema's fields in schema order, minus the label field; the choices are the label field's
`allowed` values. So a field added to the schema appears in the task without editing any HTML, and
the template reads exactly what the pre-annotation function puts in `task.input.record`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

EVENT_SCHEMA_PATH = Path(__file__).resolve().parents[3] / "lambda" / "firehose_transform" / "event_schema.json"
# The crowd-classifier's `name`: the key of the answer in annotationData.content, which the
# consolidation function reads (its ANSWER_FIELD setting).
ANSWER_FIELD = "category"
CROWD_ELEMENTS_JS = "https://assets.crowd.aws/crowd-html-elements.js"


class TemplateError(ValueError):
    """The schema cannot produce a task (no such label field, or no allowed values for it)."""


def label_categories(schema: dict[str, Any], label_field: str) -> list[str]:
    """The label field's allowed values as the strings Ground Truth passes around as categories."""
    spec = next((f for f in schema["fields"] if f["name"] == label_field), None)
    if spec is None:
        raise TemplateError(f"label field {label_field!r} is not a field of the event schema")
    if not spec.get("allowed"):
        raise TemplateError(f"label field {label_field!r} has no 'allowed' values to choose from")
    return [str(value) for value in spec["allowed"]]


def shown_fields(schema: dict[str, Any], label_field: str) -> list[dict[str, Any]]:
    """The fields a worker sees, in schema order."""
    return [f for f in schema["fields"] if f["name"] != label_field]


def render_worker_template(schema: dict[str, Any], label_field: str, *, title: str | None = None) -> str:
    """The Liquid + Crowd HTML template text for one record of `schema`, labelled by `label_field`."""
    categories = label_categories(schema, label_field)
    label_spec = next(f for f in schema["fields"] if f["name"] == label_field)
    header = title or f"Choose the {label_field} of this {schema['name']} record"
    rows = "\n".join(_row(f) for f in shown_fields(schema, label_field))
    guidance = html.escape(label_spec.get("comment", ""))
    return f"""<script src="{CROWD_ELEMENTS_JS}"></script>
<crowd-form>
  <crowd-classifier name="{ANSWER_FIELD}" categories="{html.escape(json.dumps(categories))}"
                    header="{html.escape(header)}">
    <classification-target>
      {{% if task.input.record %}}
      <table class="record">
{rows}
      </table>
      {{% else %}}
      <p>Record stored at
        <a href="{{{{ task.input.taskObject | grant_read_access }}}}" target="_blank">this link</a>.</p>
      {{% endif %}}
    </classification-target>
    <short-instructions>{guidance}</short-instructions>
    <full-instructions header="How to label">
      <p>{guidance}</p>
      <p>Read every field, then choose one value of {html.escape(label_field)}. If the record cannot be
      judged, submit without choosing: an empty answer is ignored, not counted as a vote.</p>
    </full-instructions>
  </crowd-classifier>
</crowd-form>
"""


def render_built_in_template(task: str) -> str:
    """The worker template of a built-in task type; the categories come from the job's label
    category file (PRE-* functions put them in `task.input.labels`)."""
    if task == "text-classification":
        element = (
            '<crowd-classifier name="crowd-classifier" categories="{{ task.input.labels | to_json | escape }}" '
            'header="Choose the best category">\n    <classification-target>{{ task.input.taskObject }}'
            "</classification-target>\n  </crowd-classifier>"
        )
    elif task == "image-classification":
        element = (
            '<crowd-image-classifier name="crowd-image-classifier" '
            'src="{{ task.input.taskObject | grant_read_access }}" header="Choose the best category" '
            'categories="{{ task.input.labels | to_json | escape }}"></crowd-image-classifier>'
        )
    elif task == "bounding-box":
        element = (
            '<crowd-bounding-box name="boundingBox" src="{{ task.input.taskObject | grant_read_access }}" '
            'header="Draw a box around each object" labels="{{ task.input.labels | to_json | escape }}">'
            "</crowd-bounding-box>"
        )
    else:
        raise TemplateError(f"no built-in template for task type {task!r}")
    return f'<script src="{CROWD_ELEMENTS_JS}"></script>\n<crowd-form>\n  {element}\n</crowd-form>\n'


def _row(spec: dict[str, Any]) -> str:
    name = spec["name"]
    tip = html.escape(f"{spec['type']}: {spec.get('comment', '')}".strip())
    return (
        f'        <tr data-field="{html.escape(name)}"><th title="{tip}">{html.escape(name)}</th>'
        f"<td>{{{{ task.input.record.{name} | escape }}}}</td></tr>"
    )


def load_event_schema(path: Path = EVENT_SCHEMA_PATH) -> dict[str, Any]:
    """The event schema as the Firehose transform and the catalog read it."""
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema
