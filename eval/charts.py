"""The report's charts: matplotlib figures rendered to PNG and returned as base64 data URIs.

Each function takes plain result models and returns ``data:image/png;base64,…`` (or None when there is
nothing to draw), so the HTML stays one self-contained file. Uses the Agg backend and never touches
pyplot's global state. Left out: interactivity (the report is meant to be archived and diffed).
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

from rag_cited.eval.compare import Comparison  # noqa: E402
from rag_cited.eval.metrics import METRICS, STAGES  # noqa: E402
from rag_cited.eval.results import EvalResult  # noqa: E402

GROUP_COLORS = {"retrieval": "#4C72B0", "answer": "#55A868", "citations": "#8172B2", "abstention": "#CCB974",
                "overall": "#64B5CD"}
GOOD, BAD, MUTED = "#2E8B57", "#C0392B", "#9AA5B1"
DPI = 110
# boxplot's `vert` is deprecated from 3.10 on, `orientation` does not exist before it
HORIZONTAL = {"orientation": "horizontal"} if tuple(map(int, matplotlib.__version__.split(".")[:2])) >= (3, 10) \
    else {"vert": False}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.patch.set_facecolor("white")
    return fig


def _uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def quality_names(result: EvalResult) -> list[str]:
    return [n for n, i in METRICS.items() if i.unit == "rate" and result.metrics.get(n) is not None]


def metrics_chart(result: EvalResult, old: EvalResult | None = None) -> str | None:
    """Horizontal bars, one per quality metric, coloured by group; the old run as a black tick."""
    names = quality_names(result)
    if not names:
        return None
    fig = _figure(7.2, 0.32 * len(names) + 0.9)
    ax = fig.add_subplot()
    ys = list(range(len(names)))[::-1]
    vals = [result.metrics[n] for n in names]
    ax.barh(ys, vals, color=[GROUP_COLORS.get(METRICS[n].group, MUTED) for n in names], height=0.66)
    for y, v, n in zip(ys, vals, names):
        ax.text(min(v, 1.0) + 0.01, y, f"{v:.3f}", va="center", fontsize=8)
        if old is not None and old.metrics.get(n) is not None:
            ax.plot([old.metrics[n]] * 2, [y - 0.38, y + 0.38], color="black", lw=1.6)
    ax.set_yticks(ys, [METRICS[n].label + ("  ↓" if not METRICS[n].higher_is_better else "") for n in names])
    ax.set_xlim(0, 1.12)
    ax.axvline(1.0, color="#DDD", lw=0.8, zorder=0)
    ax.set_title("Quality metrics" + ("  (black tick: compared run; ↓ lower is better)" if old else
                                      "  (↓ lower is better)"), fontsize=10, loc="left")
    _style(ax)
    return _uri(fig)


def types_chart(result: EvalResult) -> str | None:
    """Grouped bars per case type: pass rate, hit@1, facts recall, citation recall."""
    types = list(result.by_type)
    if not types:
        return None
    series = [("pass_rate", "pass rate", "#64B5CD"), ("hit@1", "hit@1", GROUP_COLORS["retrieval"]),
              ("facts_recall", "facts recall", GROUP_COLORS["answer"]),
              ("citation_recall", "citation recall", GROUP_COLORS["citations"])]
    fig = _figure(7.2, 3.0)
    ax = fig.add_subplot()
    width = 0.8 / len(series)
    for j, (key, label, color) in enumerate(series):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(types))]
        vals = [result.by_type[t].get(key) for t in types]
        ax.bar(xs, [v or 0 for v in vals], width=width, color=color, label=label)
        for x, v in zip(xs, vals):
            if v is None:
                ax.text(x, 0.01, "–", ha="center", fontsize=7, color=MUTED)
    ax.set_xticks(range(len(types)), [f"{t.replace('_', ' ')}\n({int(result.by_type[t]['cases'])})" for t in types],
                  fontsize=8, rotation=20 if len(types) > 5 else 0)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    ax.set_title("By case type (number of cases)", fontsize=10, loc="left")
    _style(ax)
    return _uri(fig)


def latency_chart(result: EvalResult) -> str | None:
    """Box plot per stage (log scale: embedding is ms, answering can be 100s of ms), points overlaid."""
    data = [[c.timings_ms[s] for c in result.cases if c.timings_ms.get(s) is not None] for s in STAGES]
    if not any(data):
        return None
    fig = _figure(7.2, 2.6)
    ax = fig.add_subplot()
    labels = [s.removesuffix("_ms") for s in STAGES]
    ax.boxplot([d or [0.0] for d in data], **HORIZONTAL, tick_labels=labels, widths=0.5, showfliers=False,
               medianprops={"color": BAD})
    for i, d in enumerate(data, 1):
        jitter = [i + ((k * 37) % 11 - 5) * 0.03 for k in range(len(d))]
        ax.scatter(d, jitter, s=6, alpha=0.45, color=GROUP_COLORS["retrieval"], zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)", fontsize=9)
    ax.set_title(f"Latency per stage over {len(data[-1])} questions", fontsize=10, loc="left")
    _style(ax)
    return _uri(fig)


def support_chart(result: EvalResult) -> str | None:
    """Histogram of the answerer's best support score, answerable vs unanswerable, with the threshold."""
    ans = [c.top_score for c in result.cases if c.answerable and c.top_score is not None]
    una = [c.top_score for c in result.cases if not c.answerable and c.top_score is not None]
    if not ans or not una:
        return None
    fig = _figure(7.2, 2.5)
    ax = fig.add_subplot()
    lo, hi = min(ans + una), max(ans + una)
    bins = [lo + (hi - lo) * i / 24 for i in range(25)] if hi > lo else 10
    ax.hist(ans, bins=bins, alpha=0.6, color=GOOD, label=f"answerable ({len(ans)})")
    ax.hist(una, bins=bins, alpha=0.6, color=BAD, label=f"unanswerable ({len(una)})")
    threshold = result.settings.get("abstain_threshold")
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1)
        ax.text(threshold, ax.get_ylim()[1] * 1.02, f"abstain below {threshold:g}", fontsize=8, ha="center",
                va="bottom")
    ax.set_xlabel("answerability (Answer.support)", fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    ax.set_title("Abstention calibration: support score by case kind", fontsize=10, loc="left", pad=14)
    _style(ax)
    return _uri(fig)


def delta_chart(comparison: Comparison) -> str | None:
    """Change per quality metric vs the compared run; green = better, red = worse."""
    rows = [d for d in comparison.metrics if d.delta is not None and METRICS[d.name].unit == "rate"]
    if not rows:
        return None
    fig = _figure(7.2, 0.3 * len(rows) + 0.9)
    ax = fig.add_subplot()
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, [d.delta for d in rows], color=[GOOD if d.change > 0 else BAD if d.change < 0 else MUTED for d in rows],
            height=0.66)
    span = max(0.02, max(abs(d.delta) for d in rows))
    for y, d in zip(ys, rows):
        if d.change == 0:
            continue
        ax.text(d.delta + (span * 0.02 if d.delta >= 0 else -span * 0.02), y, f"{d.delta:+.3f}", va="center",
                ha="left" if d.delta >= 0 else "right", fontsize=8)
    ax.set_yticks(ys, [METRICS[d.name].label for d in rows])
    ax.set_xlim(-span * 1.35, span * 1.35)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title("Change vs compared run (green better, red worse)", fontsize=10, loc="left")
    _style(ax)
    return _uri(fig)
