"""A self-contained HTML report: summary, every feature's checks, and an inline SVG chart per
drifted feature (baseline vs current distribution over the same bins). No plotting library: the
processing image has none, and SVG keeps the report one file that any browser opens."""
from __future__ import annotations

import html

import numpy as np

from monitoring.statistics import sketch_points

BINS, WIDTH, HEIGHT, PAD = 20, 560, 220, 34


def numeric_histograms(sketch: dict, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edges, baseline share per bin, current share per bin) over the union of both ranges."""
    items, weights = sketch_points(sketch)
    current = values[np.isfinite(values)]
    low = min(items.min(), current.min()) if len(current) else items.min()
    high = max(items.max(), current.max()) if len(current) else items.max()
    edges = np.linspace(low, high if high > low else low + 1.0, BINS + 1)
    base, _ = np.histogram(items, bins=edges, weights=weights)
    now, _ = np.histogram(current, bins=edges)
    return edges, base / max(base.sum(), 1e-12), now / max(now.sum(), 1)


def svg_chart(title: str, labels: list[str], baseline: np.ndarray, current: np.ndarray) -> str:
    """Grouped bars, baseline in grey and current in orange, shares on the y axis."""
    top = max(float(baseline.max(initial=0)), float(current.max(initial=0)), 1e-9)
    slot = (WIDTH - 2 * PAD) / max(len(labels), 1)
    bars = []
    for i, (b, c) in enumerate(zip(baseline, current, strict=False)):
        x = PAD + i * slot
        for offset, share, colour in ((0.1, b, "#8c8c8c"), (0.5, c, "#e8710a")):
            h = (HEIGHT - 2 * PAD) * share / top
            bars.append(f'<rect x="{x + offset * slot:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{0.4 * slot:.1f}" '
                        f'height="{h:.1f}" fill="{colour}"><title>{html.escape(labels[i])}: baseline '
                        f'{b:.3f}, current {c:.3f}</title></rect>')
    ticks = "".join(f'<text x="{PAD + i * slot:.1f}" y="{HEIGHT - PAD + 14}" font-size="9">{html.escape(labels[i])}</text>'
                    for i in range(0, len(labels), max(len(labels) // 5, 1)))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
            f'aria-label="{html.escape(title)}"><text x="{PAD}" y="16" font-size="12">{html.escape(title)}'
            f' (share per bin; grey baseline, orange current; peak {top:.3f})</text>'
            f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#333"/>'
            f'{"".join(bars)}{ticks}</svg>')


def feature_chart(stats: dict, column) -> str:
    if column.strings is not None:
        buckets = stats["string_statistics"]["distribution"]["categorical"]["buckets"]
        present = [s for s in column.strings if s is not None]
        names = sorted({b["value"] for b in buckets} | set(present))[:BINS]
        total = sum(b["count"] for b in buckets) or 1.0
        base = np.array([next((b["count"] for b in buckets if b["value"] == n), 0.0) / total for n in names])
        now = np.array([present.count(n) / max(len(present), 1) for n in names])
        return svg_chart(column.name, names, base, now)
    sketch = stats["numerical_statistics"]["distribution"]["kll"]["sketch"]
    edges, base, now = numeric_histograms(sketch, column.values)
    return svg_chart(column.name, [f"{e:.3g}" for e in edges[:-1]], base, now)


def render(summary: dict, charts: dict[str, str]) -> str:
    """The whole report page."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(f['name'])}</td><td>{e(f['kind'])}</td><td>{f['missing_ratio']:.4f}</td>"
        f"<td>{'' if f['distance'] is None else format(f['distance'], '.4f')}</td>"
        f"<td>{'' if f['threshold'] is None else f['threshold']}</td>"
        f"<td>{'DRIFT' if f['drifted'] else ''}</td><td>{e('; '.join(v['description'] for v in f['violations']))}</td></tr>"
        for f in summary["features"])
    malformed = "".join(f"<li>{e(reason)}: {count}</li>" for reason, count in summary["malformed"].items())
    examples = "".join(f"<li><code>{e(x)}</code></li>" for x in summary["malformed_examples"])
    quality = summary.get("model_quality")
    quality_html = "<p>No ground truth joined in this window.</p>" if not quality else (
        f"<p>{quality['rows']} labelled rows.</p><ul>" + "".join(
            f"<li>{e(k)}: {v:.4f}</li>" for k, v in quality["metrics"].items()) + "</ul><ul>" + "".join(
            f"<li>{e(v['description'])}</li>" for v in quality["violations"]) + "</ul>")
    prediction = summary.get("prediction_drift")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Model monitoring: {e(summary['endpoint'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 6px;font-size:13px}}</style></head><body>
<h1>Model monitoring report: {e(summary['endpoint'])}</h1>
<p>Window {e(str(summary.get('window_start')))} to {e(str(summary.get('window_end')))}. {summary['records_read']} capture
records read, {summary['records_used']} used, {summary['malformed_records']} malformed, {summary['rows']} rows analysed.
{len(summary['violations'])} violations; drifted features: {e(', '.join(summary['drifted_features']) or 'none')}.
Prediction drift: {'n/a' if prediction is None else format(prediction, '.4f')}{' (DRIFT)' if summary.get('prediction_drifted') else ''}.</p>
<h2>Drifted features</h2>{''.join(f'<div>{c}</div>' for c in charts.values()) or '<p>None.</p>'}
<h2>Features</h2><table><tr><th>feature</th><th>type</th><th>missing</th><th>distance</th><th>threshold</th><th></th><th>violations</th></tr>{rows}</table>
<h2>Model quality</h2>{quality_html}
<h2>Malformed capture records</h2><ul>{malformed or '<li>none</li>'}</ul><ul>{examples}</ul>
</body></html>"""
