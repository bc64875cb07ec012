"""Draw the layout of an environment's synthesized CloudWatch dashboard (no console is reachable here).

    .venv/bin/python scripts/render_dashboard.py dev            # reads cdk.out, writes docs/dashboard-dev.png
    .venv/bin/python scripts/render_dashboard.py prod --cdk-out cdk.out --output /tmp/prod.png

Reads the `AWS::CloudWatch::Dashboard` of `<Env>/Dashboard` from the cloud assembly, resolves its
`Fn::Join` body (tokens shown as `${Ref:...}` / `${Fn::ImportValue:...}`) and draws every widget at
its grid position and size (24 columns; one row unit is drawn as one column unit) with its title
and the metrics it plots.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLOURS = {"metric": "#dbe9f6", "text": "#f2f2f2", "header": "#c9d7c0"}


def _token(part: dict) -> str:
    ((kind, value),) = part.items()
    return "${%s:%s}" % (kind, value if isinstance(value, str) else json.dumps(value).replace('"', ""))


def dashboard_body(cdk_out: Path, env: str) -> dict:
    """The dashboard body of `<Env>/Dashboard` in `cdk_out`, tokens as readable placeholders."""
    assembly = cdk_out / f"assembly-{env.capitalize()}"
    templates = sorted(assembly.glob(f"{env.capitalize()}Dashboard*.template.json"))
    if not templates:
        raise SystemExit(f"no {env.capitalize()}/Dashboard template in {assembly}: run `make synth` first")
    resources = json.loads(templates[0].read_text())["Resources"].values()
    (dashboard,) = [r for r in resources if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return json.loads("".join(p if isinstance(p, str) else _token(p) for p in parts))


def _metric_lines(widget: dict, limit: int = 4) -> list[str]:
    lines = []
    for metric in widget["properties"].get("metrics", []):
        options = metric[-1] if isinstance(metric[-1], dict) else {}
        lines.append(options.get("label") or (metric[1] if isinstance(metric[0], str) else "expression"))
    shown = lines[:limit] + ([f"... +{len(lines) - limit} more"] if len(lines) > limit else [])
    return [line if len(line) <= 38 else line[:35] + "..." for line in shown]


def _label(widget: dict) -> tuple[str, list[str], str]:
    props = widget["properties"]
    if widget["type"] == "text":
        text = props["markdown"].lstrip("# ")
        kind = "header" if props["markdown"].startswith("#") else "text"
        return (text if len(text) <= 90 else text[:87] + "..."), [], kind
    return props.get("title", ""), _metric_lines(widget), "metric"


def render(body: dict, output: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    widgets = body["widgets"]
    rows = max(w["y"] + w["height"] for w in widgets)
    figure, axes = plt.subplots(figsize=(16, 16 * rows / 24 * 0.55 + 0.6))
    axes.set_xlim(0, 24)
    axes.set_ylim(rows, 0)
    axes.axis("off")
    for w in widgets:
        name, lines, kind = _label(w)
        axes.add_patch(Rectangle((w["x"] + 0.08, w["y"] + 0.06), w["width"] - 0.16, w["height"] - 0.12,
                                 facecolor=COLOURS[kind], edgecolor="#5b7a99", linewidth=0.8))
        weight = "bold" if kind != "text" else "normal"
        axes.text(w["x"] + 0.3, w["y"] + 0.5, name, fontsize=8.5 if kind != "text" else 7, weight=weight,
                  va="center", wrap=kind == "text")
        for index, line in enumerate(lines):
            axes.text(w["x"] + 0.4, w["y"] + 1.4 + index * 0.85, f"- {line}", fontsize=7, va="center", color="#333")
        if kind == "metric":
            axes.text(w["x"] + w["width"] - 0.3, w["y"] + w["height"] - 0.45, f"{w['width']}x{w['height']} at "
                      f"({w['x']},{w['y']})", fontsize=6, ha="right", color="#777")
    axes.set_title(title, fontsize=11)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110, bbox_inches="tight")
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env", choices=("dev", "staging", "prod"))
    parser.add_argument("--cdk-out", type=Path, default=REPO / "cdk.out")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    body = dashboard_body(args.cdk_out, args.env)
    output = args.output or REPO / "docs" / f"dashboard-{args.env}.png"
    render(body, output, f"{args.env.capitalize()}/Dashboard: {len(body['widgets'])} widgets (layout from cdk.out)")
    print(f"{output}: {len(body['widgets'])} widgets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
