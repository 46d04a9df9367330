"""Markdown table, ratios against the targets, and the PNG plot of an ingest-levels run."""

from __future__ import annotations

from pathlib import Path

from bench.steps import Search

#: (ratio name, numerator, denominator, target; None: for information, no target)
RATIOS: tuple[tuple[str, str, str, float | None], ...] = (
    ("L3/L1", "L3", "L1", 0.8),
    ("L3/L2", "L3", "L2", 0.9),
    ("L3x2/L3", "L3x2", "L3", 1.3),
    ("L3/L1r", "L3", "L1r", None),
)
DESCRIPTION = {
    "L0": "broker ceiling (fleet -> mosquitto_sub)",
    "L1": "paho subscriber, count only",
    "L1r": "L1 on the ingest's read-ahead paho client",
    "L2": "Telegraf-style paho -> line protocol -> /write",
    "L3": "full ingest, 1 worker",
    "L3x2": "full ingest, 2 workers ($share)",
}


def _f(v: float | None, fmt: str = ",.0f", none: str = "-") -> str:
    return none if v is None else format(v, fmt)


def table(results: list[Search]) -> str:
    head = (
        "| level | what | QoS | max zero-loss rate (msg/s) | consumer CPU (us/msg) "
        "| broker CPU (us/msg) | RSS (MiB) | p50 / p99 at half rate (ms) | samples "
        "| loss at 80 % |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    for r in results:
        m, h = r.at_max, r.at_half
        bound = ">= " if r.publisher_bound else ""
        loss = "-" if r.at_80 is None else f"{r.at_80.sent - r.at_80.delivered:,}"
        lat = "-" if h is None else f"{_f(h.p50_ms, '.1f')} / {_f(h.p99_ms, '.1f')}"
        rss = max((s.rss_mib for s in r.steps), default=0.0)
        rows.append(
            f"| {r.level} | {DESCRIPTION.get(r.level, '')} | {r.qos} "
            f"| {bound}{_f(r.max_rate)} | {_f(m.cpu_us_per_msg if m else None, '.1f')} "
            f"| {_f(m.broker_us_per_msg if m else None, '.1f')} | {rss:.0f} | {lat} "
            f"| {h.n_latency if h else 0} | {loss} |"
        )
    return head + "\n".join(rows) + "\n"


def ratios(
    results: list[Search],
) -> tuple[str, list[tuple[str, int, float | None, float | None, bool | None]]]:
    """Markdown of the ratios, and ``(name, qos, value, target, held)`` for each."""
    by = {(r.level, r.qos): r.max_rate for r in results}
    lines = ["| ratio | QoS | value | target | held |", "|---|---|---:|---:|---|"]
    out = []
    for name, num, den, target in RATIOS:
        for qos in (0, 1):
            a, b = by.get((num, qos)), by.get((den, qos))
            if a is None or b is None:
                continue
            value = a / b if b else None
            held = None if target is None else value is not None and value >= target
            out.append((name, qos, value, target, held))
            verdict = "(information)" if held is None else "yes" if held else "**no**"
            lines.append(
                f"| {name} | {qos} | {_f(value, '.2f' if (value or 0) >= 0.1 else '.3f')} "
                f"| {'-' if target is None else f'>= {target}'} | {verdict} |"
            )
    return "\n".join(lines) + "\n", out


def plot(results: list[Search], path: Path, title: str) -> Path | None:
    """Throughput and p99 latency against offered rate, one line per level and QoS."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2))
    colors = {
        "L0": "tab:gray",
        "L1": "tab:blue",
        "L1r": "tab:cyan",
        "L2": "tab:green",
        "L3": "tab:red",
        "L3x2": "tab:purple",
    }
    for r in results:
        steps = sorted(r.steps, key=lambda s: s.offered)
        x = [s.offered for s in steps]
        style = "-" if r.qos == 1 else "--"
        c = colors.get(r.level, "black")
        label = f"{r.level} QoS {r.qos}"
        ax1.plot(x, [s.throughput for s in steps], style, marker="o", ms=3, color=c, label=label)
        lat = [(s.offered, s.p99_ms) for s in steps if s.p99_ms is not None]
        if lat:
            ax2.plot(*zip(*lat, strict=True), style, marker="o", ms=3, color=c, label=label)
    lim = max((s.offered for r in results for s in r.steps), default=1)
    ax1.plot([1, lim], [1, lim], ":", color="black", lw=0.8, label="stored = offered")
    for ax, ylabel in ((ax1, "stored throughput (msg/s)"), (ax2, "p99 publish-to-stored (ms)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("offered rate (msg/s)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=7, ncol=2)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
