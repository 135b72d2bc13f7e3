"""One self-contained HTML report: summary tiles, charts (embedded PNGs), tables, and every question.

Questions are ordered so the ones to look at come first: with a comparison, regressions, then cases
that got worse, then the rest of the failures; without one, failures first. Failed cases are expanded;
passing ones collapse to a line. All text goes through `html.escape`. No scripts, no external files.
Left out: interactivity (filters, sorting); the JSON is there for tools.
"""

from __future__ import annotations

import re
from html import escape

from rag_cited.eval import charts
from rag_cited.eval.compare import STATUS_ORDER, CaseChange, Comparison, compare
from rag_cited.eval.metrics import METRICS, format_metric, overlaps
from rag_cited.eval.results import CaseResult, EvalResult, clip

CSS = """
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;
background:#f4f6f8;margin:0}main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}.meta{color:#52606d;font-size:12.5px}
.meta code{background:#e4e7eb;padding:0 4px;border-radius:3px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:16px 0}
.tile{background:#fff;border-radius:8px;padding:10px 12px;box-shadow:0 1px 2px #0001}
.tile .v{font-size:22px;font-weight:600}.tile .l{font-size:12px;color:#52606d}.tile .d{font-size:12px}
.good{color:#2e8b57}.bad{color:#c0392b}.muted{color:#7b8794}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:12px}
.charts figure{margin:0;background:#fff;border-radius:8px;padding:8px;box-shadow:0 1px 2px #0001}
.charts img{width:100%;height:auto}
table{border-collapse:collapse;background:#fff;border-radius:8px;overflow:hidden;box-shadow:0 1px 2px #0001;
font-size:13px}th,td{padding:5px 10px;white-space:nowrap;text-align:left;border-bottom:1px solid #e4e7eb}th{background:#eef1f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.banner{padding:10px 14px;border-radius:8px;margin:12px 0}.banner.fail{background:#fdecea;color:#8a1c12}
.banner.ok{background:#e6f4ea;color:#1e5631}.banner.info{background:#e8f0fe;color:#1a3d7c}
details.case{background:#fff;border-radius:8px;margin:8px 0;box-shadow:0 1px 2px #0001;border-left:5px solid #9aa5b1}
details.case.pass{border-left-color:#2e8b57}details.case.fail{border-left-color:#c0392b}
details.case.regressed{border-left-color:#8e1b10}
summary{cursor:pointer;padding:8px 12px;list-style:none;display:flex;gap:8px;align-items:baseline;flex-wrap:wrap}
summary::-webkit-details-marker{display:none}
.pill{font-size:11px;font-weight:700;padding:1px 7px;border-radius:10px;color:#fff;white-space:nowrap}
.pill.pass{background:#2e8b57}.pill.fail{background:#c0392b}.pill.regressed{background:#8e1b10}
.pill.fixed{background:#2e8b57}.pill.worse{background:#d35400}.pill.better{background:#16a085}
.pill.new,.pill.same,.pill.failing,.pill.removed{background:#7b8794}
.tag{font-size:11px;background:#e4e7eb;border-radius:4px;padding:0 6px;color:#3e4c59}
.id{font-family:ui-monospace,monospace;font-size:12.5px;color:#3e4c59}.q{font-weight:600}
.body{display:grid;grid-template-columns:1.15fr 1fr;gap:16px;padding:4px 14px 14px}
.body h4{margin:8px 0 4px;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#616e7c}
.answer{background:#f8fafc;border:1px solid #e4e7eb;border-radius:6px;padding:8px 10px;white-space:pre-wrap}
.answer.abstained{border-style:dashed;color:#52606d}sup.c{color:#4c72b0;font-weight:700}
ul.reasons{margin:4px 0;padding-left:18px}ul.reasons li.f{color:#a61b0f}ul.reasons li.n{color:#616e7c}
.cite{border-left:3px solid #c3cbd4;padding:2px 8px;margin:6px 0;font-size:13px}
.cite.on{border-left-color:#2e8b57}.cite.off{border-left-color:#d35400}.cite .src{font-size:11.5px;color:#616e7c}
mark{background:#fff3bf;padding:0 1px}.ev{font-size:13px;margin:4px 0}.ok{color:#2e8b57}.no{color:#c0392b}
.tables{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:24px;align-items:start}
.tables>div{overflow-x:auto}.tables table{width:100%}
.body h4 .id{text-transform:none;letter-spacing:0}
.turn{font-size:12.5px;color:#52606d;margin:2px 0}.small{font-size:12px}
"""


def _delta_html(name: str, delta: float | None, change: int) -> str:
    if delta is None:
        return "<span class=muted>–</span>"
    cls = "good" if change > 0 else "bad" if change < 0 else "muted"
    text = "±0" if change == 0 else format_metric(name, delta, signed=True, with_unit=True)
    return f"<span class={cls}>{escape(text)}</span>"


def _answer_html(text: str) -> str:
    return re.sub(r"\[(\d+)\]", r"<sup class=c>[\1]</sup>", escape(text))


def _quote_html(c, case: CaseResult) -> str:
    """The quote with the evidence it overlaps highlighted."""
    marks = []
    if c.source == case.source:
        for occ in case.evidence_spans:
            for s, e in occ:
                if overlaps((c.start, c.end), (s, e)):
                    marks.append((max(s, c.start) - c.start, min(e, c.end) - c.start))
    marks.sort()
    out, pos = [], 0
    for s, e in marks:
        s = max(s, pos)
        if e <= s:
            continue
        out += [escape(c.quote[pos:s]), "<mark>", escape(c.quote[s:e]), "</mark>"]
        pos = e
    out.append(escape(c.quote[pos:]))
    return "".join(out)


def _case_html(case: CaseResult, change: CaseChange | None) -> str:
    status = change.status if change and change.status in ("regressed", "fixed", "worse", "better", "new") else (
        "pass" if case.passed else "fail")
    cls = "regressed" if status in ("regressed", "worse") else "pass" if case.passed else "fail"
    facts = ""
    if case.expected:
        missing = {tuple(f) for f in case.missing_facts}
        facts = " ".join(f"<span class={'no' if tuple(f) in missing else 'ok'}>{'✗' if tuple(f) in missing else '✓'} "
                         f"{escape(' / '.join(f))}</span>" for f in case.expected)
    head = (f"<summary><span class='pill {status}'>{escape(status.upper())}</span>"
            f"<span class=tag>{escape(case.type)}</span><span class=id>{escape(case.id)}</span>"
            f"<span class=q>{escape(case.question)}</span>"
            + (f"<span class='small muted'>evidence at rank {case.evidence_rank}</span>" if case.evidence_rank else "")
            + "</summary>")
    left = []
    for t in case.history:
        left.append(f"<div class=turn><b>earlier:</b> {escape(t.question)} → {escape(clip(t.answer, 160))}</div>")
    left.append(f"<h4>Answer{' (abstained)' if case.abstained else ''}</h4>"
                f"<div class='answer{' abstained' if case.abstained else ''}'>{_answer_html(case.answer or case.error or '')}</div>")
    if change and change.old_answer is not None:
        left.append(f"<h4>Answer in the compared run</h4><div class='answer small'>{_answer_html(change.old_answer)}</div>")
    if case.failures or case.notes:
        items = [f"<li class=f>{escape(f)}</li>" for f in case.failures] + [f"<li class=n>{escape(n)}</li>" for n in case.notes]
        left.append(f"<h4>Why</h4><ul class=reasons>{''.join(items)}</ul>")
    if change and change.deltas:
        left.append("<h4>Change vs compared run</h4><div class=small>" + ", ".join(
            f"{escape(k)} {v:+.3f}" for k, v in change.deltas.items()) + "</div>")
    right = []
    if case.answerable:
        right.append(f"<h4>Expected</h4><div>{facts or '<span class=muted>no facts listed</span>'}</div>")
        cited = [(c.source, (c.start, c.end)) for c in case.citations]
        evs = []
        for ev, occ in zip(case.evidence, case.evidence_spans or [[]] * len(case.evidence)):
            hit = any(src == case.source and any(overlaps(sp, o) for o in occ) for src, sp in cited)
            evs.append(f"<div class=ev><span class={'ok' if hit else 'no'}>{'cited' if hit else 'not cited'}</span> "
                       f"“{escape(ev)}”</div>")
        right.append(f"<h4>Evidence in <span class=id>{escape(case.source or '')}</span></h4>{''.join(evs)}")
    else:
        right.append("<h4>Expected</h4><div>abstain: the documents do not answer this</div>")
    if case.citations:
        cites = []
        for c in case.citations:
            kind = "" if c.on_evidence is None else " on" if c.on_evidence else " off"
            badges = ("" if c.exact else "<b class=no>NOT EXACT</b> ") + (
                "" if c.on_evidence is None else "on evidence" if c.on_evidence else "off evidence")
            cites.append(f"<div class='cite{kind}'><div class=src>[{c.id}] {escape(c.source)} "
                         f"[{c.start}:{c.end}] · score {c.score:.3f} · {badges}</div>{_quote_html(c, case)}</div>")
        right.append(f"<h4>Citations</h4>{''.join(cites)}")
    if case.retrieved:
        ranks = ", ".join(f"{r.get('rank')}: {escape(str(r.get('source', '')).split('/')[-1])}"
                          f"[{r.get('start')}:{r.get('end')}]" for r in case.retrieved)
        right.append(f"<h4>Retrieved</h4><div class='small muted'>{ranks}</div>")
    opened = " open" if not case.passed or status in ("regressed", "worse") else ""
    return (f"<details class='case {cls}'{opened}>{head}<div class=body><div>{''.join(left)}</div>"
            f"<div>{''.join(right)}</div></div></details>")


def _order(result: EvalResult, comparison: Comparison | None) -> list[tuple[CaseResult, CaseChange | None]]:
    changes = {c.id: c for c in comparison.cases} if comparison else {}

    def key(case: CaseResult):
        ch = changes.get(case.id)
        rank = STATUS_ORDER.index(ch.status) if ch else 0
        return (rank if comparison else 0, case.passed)

    return [(c, changes.get(c.id)) for c in sorted(result.cases, key=key)]


def _tiles(result: EvalResult, comparison: Comparison | None) -> str:
    deltas = {d.name: d for d in comparison.metrics} if comparison else {}
    out = []
    for name in ("pass_rate", "hit@5", "mrr@5", "facts_recall", "token_f1", "citation_exactness",
                 "citation_precision", "citation_recall", "abstain_precision", "abstain_recall",
                 "false_abstain_rate", "latency.total_ms.p50", "latency.total_ms.p95"):
        v = result.metrics.get(name)
        d = deltas.get(name)
        extra = f"<div class=d>{_delta_html(name, d.delta, d.change)}</div>" if d else ""
        out.append(f"<div class=tile><div class=v>{escape(format_metric(name, v, with_unit=True))}</div>"
                   f"<div class=l>{escape(METRICS[name].label)}</div>{extra}</div>")
    return f"<div class=tiles>{''.join(out)}</div>"


def _metrics_table(result: EvalResult, comparison: Comparison | None) -> str:
    deltas = {d.name: d for d in comparison.metrics} if comparison else {}
    head = "<tr><th>Metric</th><th>Key</th><th>Value</th>" + ("<th>Compared run</th><th>Change</th>" if comparison else "") + "</tr>"
    rows = []
    for name, info in METRICS.items():
        v = result.metrics.get(name)
        d = deltas.get(name)
        if v is None and d is None:
            continue
        cells = (f"<td>{escape(info.label)}</td><td class='small muted'>{escape(name)}</td>"
                 f"<td class=n>{escape(format_metric(name, v, with_unit=True))}</td>")
        if comparison:
            cells += (f"<td class=n>{escape(format_metric(name, d.old if d else None, with_unit=True))}</td>"
                      f"<td class=n>{_delta_html(name, d.delta if d else None, d.change if d else 0)}</td>")
        rows.append(f"<tr>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _types_table(result: EvalResult) -> str:
    cols = ["cases", "pass_rate", "hit@1", "facts_recall", "citation_recall", "abstained"]
    head = "<tr><th>Type</th>" + "".join(f"<th>{escape(c)}</th>" for c in cols) + "</tr>"
    rows = []
    for t, vals in result.by_type.items():
        cells = "".join(f"<td class=n>{'–' if vals.get(c) is None else int(vals[c]) if c == 'cases' else f'{vals[c]:.2f}'}</td>"
                        for c in cols)
        rows.append(f"<tr><td>{escape(t)}</td>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def render_html(result: EvalResult, baseline: EvalResult | None = None, gate: list[str] | None = None) -> str:
    """The report as one HTML string; `baseline` is an earlier run to compare with, `gate` the gate's failures."""
    comparison = compare(baseline, result) if baseline is not None else None
    s = result.settings
    title = f"Eval: {result.questions}"
    meta = (f"{escape(result.created_at)} · questions <code>{escape(result.questions)}</code> · docs "
            f"<code>{escape(result.docs)}</code> ({result.corpus.get('documents', '?')} documents, "
            f"{result.corpus.get('chunks', '?')} chunks) · {result.counts.get('cases', 0)} cases "
            f"({result.counts.get('answerable', 0)} answerable, {result.counts.get('unanswerable', 0)} unanswerable) · "
            f"{result.duration_s:.0f} s<br>mode <code>{escape(str(s.get('answer_mode')))}</code> · top_k "
            f"<code>{result.top_k}</code> · chunk {s.get('chunk_size')}/{s.get('chunk_overlap')} · hybrid "
            f"<code>{s.get('hybrid')}</code> · abstain_threshold <code>{s.get('abstain_threshold')}</code> · "
            + " · ".join(f"{escape(k)} <code>{escape(str(v))}</code>" for k, v in result.fingerprint.items()))
    parts = [f"<h1>{escape(title)}</h1><div class=meta>{meta}</div>"]
    if comparison:
        c = comparison.counts()
        parts.append(f"<div class='banner info'>Compared with the run of {escape(comparison.old_created_at)} "
                     f"({escape(comparison.old_questions)}{'' if comparison.same_questions else ', a different question file'}): "
                     f"<b>{c['regressed']}</b> regressed, <b>{c['worse']}</b> worse, <b>{c['fixed']}</b> fixed, "
                     f"<b>{c['better']}</b> better, {c['new']} new, {c['removed']} removed.</div>")
    if gate is not None:
        parts.append("<div class='banner fail'><b>Quality gate failed:</b><ul>" + "".join(
            f"<li>{escape(g)}</li>" for g in gate) + "</ul></div>" if gate else
            "<div class='banner ok'><b>Quality gate passed.</b></div>")
    parts.append(_tiles(result, comparison))
    figs = [charts.metrics_chart(result, baseline), charts.delta_chart(comparison) if comparison else None,
            charts.types_chart(result), charts.latency_chart(result), charts.support_chart(result)]
    parts.append("<h2>Charts</h2><div class=charts>" + "".join(
        f"<figure><img alt='chart' src='{uri}'></figure>" for uri in figs if uri) + "</div>")
    parts.append("<div class=tables><div><h2>All metrics</h2>" + _metrics_table(result, comparison) + "</div>"
                 "<div><h2>By case type</h2>" + _types_table(result) + "</div></div>")
    if result.warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{escape(w)}</li>" for w in result.warnings) + "</ul>")
    failed = sum(not c.passed for c in result.cases)
    order = "regressions first, then failures" if comparison else "failures first"
    parts.append(f"<h2>Questions ({failed} of {len(result.cases)} failed; {order})</h2>")
    parts += [_case_html(case, change) for case, change in _order(result, comparison)]
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f"content='width=device-width,initial-scale=1'><title>{escape(title)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>")
