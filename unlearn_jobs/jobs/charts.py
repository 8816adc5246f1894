"""Loss curves as server-drawn SVG: each figure's (step, value) pairs mapped to polyline points with axis
labels, so the job page needs no chart script (and no inline style) at all."""

from dataclasses import dataclass

WIDTH, HEIGHT = 460, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 12, 34

CURVES = (
    ("forget/nll", "Forget loss (NLL on the trained items: rises as the model forgets)"),
    ("retain/nll", "Retain loss (NLL on look-alike texts it must keep: should stay flat)"),
)


@dataclass(frozen=True)
class Tick:
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class LossChart:
    key: str
    title: str
    points: str  # "x,y x,y ..." for <polyline points=...>
    dots: list[tuple[float, float]]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    first: float
    last: float
    steps: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    bottom_edge: int = HEIGHT - BOTTOM


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    if high == low:
        return (start + end) / 2
    return round(start + (value - low) / (high - low) * (end - start), 1)


def loss_chart(key: str, title: str, pairs: list[tuple[int, float]]) -> LossChart | None:
    """One curve; None without a point. The y range is padded by 5 % so a flat line is still seen."""
    if not pairs:
        return None
    steps = [step for step, _ in pairs]
    values = [value for _, value in pairs]
    x_low, x_high = min(0, min(steps)), max(steps)
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or max(abs(high) * 0.05, 0.01)
    low, high = low - pad, high + pad
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    coordinates = [
        (_scale(step, x_low, x_high, x0, x1), _scale(value, low, high, y0, y1)) for step, value in pairs
    ]
    x_ticks = [Tick(str(step), _scale(step, x_low, x_high, x0, x1), y0 + 16) for step in (x_low, x_high)]
    y_ticks = [
        Tick(f"{value:.3f}", x0 - 6, _scale(value, low, high, y0, y1) + 4)
        for value in (low + pad, (low + high) / 2, high - pad)
    ]
    return LossChart(
        key=key,
        title=title,
        points=" ".join(f"{x},{y}" for x, y in coordinates),
        dots=coordinates,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        first=values[0],
        last=values[-1],
        steps=len(pairs),
    )


def loss_charts(series: dict[str, list[tuple[int, float]]]) -> list[LossChart]:
    """The forget and retain curves of a job's metric history (those it logged)."""
    charts = (loss_chart(key, title, series.get(key, [])) for key, title in CURVES)
    return [chart for chart in charts if chart is not None]
