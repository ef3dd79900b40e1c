"""Bar charts as SVG geometry, drawn by a Jinja template (no JavaScript): the counts of
audit.stats per purpose and day, and the daily share of accept all / reject all / per purpose."""
from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 240
LEFT, BOTTOM, TOP = 48, 28, 12
SERIES = ("granted", "refused", "withdrawn")
SHARES = ("accept_all", "reject_all", "per_purpose")


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    label: str  # what a screen reader or a tooltip says (the <title> of the bar)


@dataclass
class Chart:
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # y, label
    days: list[tuple[float, str]] = field(default_factory=list)  # x centre, label
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM


def _scale(top: int) -> tuple[int, list[int]]:
    """A round maximum and 4 tick values for counts up to top."""
    top = max(top, 1)
    step = 1
    while step * 4 < top:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step * 4, [step * i for i in range(5)]


def counts(rows: list[dict], days: list[str], label) -> Chart:
    """Grouped bars per day: granted, refused, withdrawn (rows of one purpose)."""
    chart = Chart()
    by_day = {r["day"]: r for r in rows}
    maximum, ticks = _scale(max((r[s] for r in rows for s in SERIES), default=0))
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(days), 1)
    bar_w = max(slot * 0.8 / len(SERIES), 1)
    chart.ticks = [(HEIGHT - BOTTOM - plot_h * t / maximum, str(t)) for t in ticks]
    for i, day in enumerate(days):
        chart.days.append((LEFT + slot * (i + 0.5), day[5:]))
        row = by_day.get(day, {})
        for j, series in enumerate(SERIES):
            value = row.get(series, 0)
            h = plot_h * value / maximum
            chart.bars.append(Bar(round(LEFT + slot * (i + 0.1) + bar_w * j, 2),
                                  round(HEIGHT - BOTTOM - h, 2), round(bar_w, 2), round(h, 2),
                                  series, label(day, series, value)))
    return chart


def shares(rows: list[dict], days: list[str], label) -> Chart:
    """A 100 % stacked bar per day: accept all, reject all, chosen per purpose (none on a day
    without choices)."""
    chart = Chart()
    by_day = {r["day"]: r for r in rows}
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(days), 1)
    chart.ticks = [(HEIGHT - BOTTOM - plot_h * t / 100, f"{t} %") for t in (0, 25, 50, 75, 100)]
    for i, name in enumerate(days):
        chart.days.append((LEFT + slot * (i + 0.5), name[5:]))
        if name not in by_day:
            continue
        day = by_day[name]
        y = HEIGHT - BOTTOM
        for series in SHARES:
            h = plot_h * day["share"][series]
            y -= h
            chart.bars.append(Bar(round(LEFT + slot * 0.15 + slot * i, 2), round(y, 2),
                                  round(slot * 0.7, 2), round(h, 2), series,
                                  label(day["day"], series, day[series])))
    return chart
