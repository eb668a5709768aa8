"""The one-page HTML report of `composer eval`: tables plus matplotlib plots
(Agg backend, PNG embedded as base64, so the page is a single file)."""
from __future__ import annotations

import base64
import html
import io
import math

from composer.services.evaluate import fmt_number

TITLES = {
    "pitch_class": "Pitch classes", "pitch_range": "Pitch range per piece (semitones)",
    "interval": "Melodic intervals (semitones)", "note_length": "Note lengths (beats)",
    "ioi": "Inter-onset intervals (beats)", "notes_per_bar": "Notes per bar",
    "in_scale": "Share of notes in the best key", "empty_bars": "Share of empty bars per piece",
}


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figures(result) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for the likelihood bars, every feature and the copy meter."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # a Figure without pyplot: no global state, thread-safe

    out = []
    fig = Figure(figsize=(5, 2.4))
    ax = fig.subplots()
    names = [n for n, m in result.likelihood.items() if _finite(m["bits_per_note"])]     # unavailable: no bar
    values = [result.likelihood[n]["bits_per_note"] for n in names]
    ax.barh(names, values, color=["#3465a4", "#888a85", "#babdb6"][:len(names)])
    ax.set_xlabel("bits per note (lower is better)")
    ax.invert_yaxis()
    out.append(("Held-out likelihood", _png(fig)))

    for feature in result.features:
        fig = Figure(figsize=(5, 2.4))
        ax = fig.subplots()
        x = range(len(feature.labels))
        ax.bar([i - 0.2 for i in x], feature.reference, width=0.4, label="folder", color="#888a85")
        ax.bar([i + 0.2 for i in x], feature.generated, width=0.4, label="generated", color="#3465a4")
        step = max(1, len(feature.labels) // 12)
        ax.set_xticks(list(x)[::step], feature.labels[::step], fontsize=7)
        ax.set_ylabel("share")
        ax.set_title(f"{TITLES.get(feature.name, feature.name)} — OA {feature.oa:.2f}", fontsize=9)
        ax.legend(fontsize=7)
        out.append((feature.name, _png(fig)))

    if result.copies:
        fig = Figure(figsize=(5, 2.4))
        ax = fig.subplots()
        ax.bar([c["piece"] for c in result.copies], [c["length"] for c in result.copies], color="#cc0000")
        ax.set_xlabel("generated piece")
        ax.set_ylabel("longest copied run (notes)")
        out.append(("Copy meter", _png(fig)))
    return out


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _skipped_section(skipped: dict) -> str:
    """A table of the skipped files and their reasons ("" when none was skipped)."""
    if not skipped.get("count"):
        return ""
    esc = html.escape
    kinds = ", ".join(f"{esc(kind)} ({n})" for kind, n in skipped.get("by_reason", {}).items())
    rows = "".join(f"<tr><td>{esc(f['path'])}</td><td>{esc(f['reason'])}</td></tr>" for f in skipped.get("files", []))
    return (f"<h2>Skipped files</h2>\n<p class=\"small\">{skipped['count']} file(s) of the folder were not usable: "
            f"{kinds}.</p>\n<table><tr><th>file</th><th>reason</th></tr>{rows}</table>\n")


def _pm(text: str) -> str:
    return text.replace(" +- ", " \u00b1 ")


def _form_section(form: dict) -> str:
    """The form statistics, generated and folder side by side ("" when not measured at all)."""
    from composer.analysis.form import LABELS, MEAN_FIELDS, SHARE_FIELDS, summary_text
    if form.get("skipped"):
        return f"<h2>Form</h2>\n<p class=\"small\">Not measured: {html.escape(form['skipped'])}.</p>\n"
    if not form.get("generated"):
        return ""
    g, f = form["generated"], form["folder"]
    rows = "".join(f"<tr><td>{html.escape(LABELS[name])}</td><td>{_pm(summary_text(g['summary'], name))}</td>"
                   f"<td>{_pm(summary_text(f['summary'], name))}</td></tr>" for name in MEAN_FIELDS + SHARE_FIELDS)
    return (f"<h2>Form (first {form['bars']} bars)</h2>\n<p class=\"small\">Mean ± SD over pieces, and shares of "
            f"pieces; definitions in docs/evaluation.md.</p>\n<table><tr><th>statistic</th><th>generated "
            f"({g['count']})</th><th>folder ({f['count']})</th></tr>{rows}</table>\n")


def render_html(result) -> str:
    """The report page for an `EvalResult`."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{fmt_number(m['bits_per_note'])}</td><td>{fmt_number(m['bits_per_token'])}</td>"
        f"<td>{m['notes']}</td><td>{m['files']}</td></tr>" for name, m in result.likelihood.items())
    feats = "".join(
        f"<tr><td>{esc(f.name)}</td><td>{fmt_number(f.oa)}</td><td>{fmt_number(f.generated_mean)}</td>"
        f"<td>{fmt_number(f.reference_mean)}</td><td>{esc(f.unit)}</td></tr>"
        for f in result.features)
    copies = "".join(f"<tr><td>{c['piece']}</td><td>{c['length']}</td><td>{esc(str(c['source'] or '-'))}</td></tr>"
                     for c in result.copies)
    images = "".join(f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'></figure>"
                     for caption, data in _figures(result))
    g = result.generation
    n_skipped = result.skipped.get("count", 0)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Evaluation of {esc(result.model)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; max-width: 1100px; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; }} td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} figure {{ display: inline-block; margin: 4px; }}
.small {{ color: #555; font-size: 90%; }}
</style></head><body>
<h1>Evaluation of {esc(result.model)}</h1>
<p class="small">{esc(result.representation)} model, folder {esc(result.folder)}; {esc(result.split.get('description', ''))};
{n_skipped} file(s) of the folder were not usable. {g.get('samples')} pieces generated with seed {g.get('seed')}
(temperature {g.get('temperature')}, {esc(str(g.get('device')))}). {result.seconds:.0f} s.</p>
<h2>Held-out likelihood</h2>
<table><tr><th>model</th><th>bits/note</th><th>bits/token</th><th>notes</th><th>files</th></tr>{rows}</table>
<h2>Generated pieces against the folder (overlapping area, 1 = same distribution)</h2>
<table><tr><th>feature</th><th>OA</th><th>mean generated</th><th>mean folder</th><th>unit</th></tr>{feats}</table>
{_form_section(result.form)}<h2>Copy meter</h2>
<p class="small">Longest run of consecutive notes (pitch and inter-onset interval) also found in
{esc(result.copy_index.get('description', ''))}; runs under {result.copy_index.get('anchor')} notes count as 0.</p>
<table><tr><th>piece</th><th>notes</th><th>source</th></tr>{copies}</table>
{_skipped_section(result.skipped)}<h2>Plots</h2>
{images}
</body></html>
"""
