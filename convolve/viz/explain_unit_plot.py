"""The picture of one unit that :func:`convolve.viz.explain_unit.explain_unit` traced: the input
image with the receptive field, the map the unit reads with its window, the layer's map with the
unit, and the unit's arithmetic as grids (``plot_unit``; matplotlib is imported on first use).
"""
from __future__ import annotations

import numpy as np

from .explain import _num
from .explain_unit_field import axis_words, position_text
from .plots import _figure_class, _save


def draw(unit, path=None):
    """:func:`convolve.viz.explain_unit.plot_unit`, which documents the picture and checks its
    arguments (this module is imported only then, and does not import it back)."""
    where = "plot_unit"
    Figure = _figure_class(where)
    bottom = _bottom_panels(unit)
    columns = max(4, len(bottom))
    fig = Figure(figsize=(3.4 * columns, 3.6 * (2 if bottom else 1)), dpi=100, layout="constrained")
    grid = fig.add_gridspec(2 if bottom else 1, columns)
    _draw_input(fig.add_subplot(grid[0, 0]), unit)
    source = unit.source_map is not None and unit.source_map.ndim <= 2
    if source:
        _draw_source(fig.add_subplot(grid[0, 1]), unit)
    _draw_output(fig.add_subplot(grid[0, 2]), unit)
    _draw_summary(fig.add_subplot(grid[0, 3 if source else 1]), unit)
    for k, (title, values, marks, best) in enumerate(bottom):
        ax = fig.add_subplot(grid[1, k])
        if values is None:  # a Dense's terms
            _draw_terms(ax, unit)
        else:
            _draw_grid(ax, title, values, marks, best)
    what = f"output {position_text(unit.position)}, channel {unit.channel}" if unit.position else (
        f"unit {unit.channel}")
    fig.suptitle(f"{unit.layer} ({unit.layer_type}) {what} = {_num(unit.value)}: {unit.kind}", fontsize=10)
    _save(fig, path)
    return fig


def _rows(a):
    """A 1-D map as one row; 2-D as is."""
    return a[None] if a.ndim == 1 else a


def _bare(ax, image):
    ax.set_xticks([])
    ax.set_yticks([])
    if image.shape[0] == 1:
        ax.set_aspect("auto")


def _outline(ax, spans, **style):
    """A rectangle around cells (start, stop) per axis (rows, cols); one span: a 1-row strip."""
    from matplotlib.patches import Rectangle

    (r0, r1), (c0, c1) = ((0, 1), *spans) if len(spans) == 1 else spans
    ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, **style))


def _limits(ax, shape, spans):
    """Axis limits that show the map and every span (which may reach outside it)."""
    spans = ((0, 1), *spans) if len(spans) == 1 else spans
    (r0, r1), (c0, c1) = spans
    ax.set_xlim(min(c0, 0) - 0.5, max(c1, shape[1]) - 0.5)
    ax.set_ylim(max(r1, shape[0]) - 0.5, min(r0, 0) - 0.5)


def _draw_input(ax, unit):
    image = unit.image if unit.image.ndim == 3 else unit.image[None]  # (H, W, C)
    if image.shape[-1] == 3:
        low, high = float(image.min()), float(image.max())
        shown = (image - low) / (high - low) if high > low else np.full(image.shape, 0.5)
        ax.imshow(shown, interpolation="nearest")
        note = ""
    else:
        ax.imshow(image.mean(axis=-1), cmap="gray", interpolation="nearest")
        note = f" (mean of {image.shape[-1]} channels)" if image.shape[-1] > 1 else ""
    _bare(ax, image)
    if not unit.input_size:
        ax.set_title("input" + note, fontsize=8)
        return
    spans = [unit.receptive_field_unclipped]
    _outline(ax, unit.receptive_field_unclipped, edgecolor="orange", linestyle="--", linewidth=1.5)
    if unit.receptive_field is not None:
        _outline(ax, unit.receptive_field, edgecolor="red", linewidth=2)
        spans.append(unit.receptive_field)
    _limits(ax, image.shape, tuple((min(s[a][0] for s in spans), max(s[a][1] for s in spans))
                                   for a in range(len(spans[0]))))
    box = "empty" if unit.receptive_field is None else ", ".join(
        f"{w} {a}..{b - 1}" for w, (a, b) in zip(axis_words(len(unit.input_size)), unit.receptive_field))
    ax.set_title(f"input{note}\nreceptive field: {box}", fontsize=8)


def _draw_source(ax, unit):
    shown = _rows(unit.source_map)
    ax.imshow(shown, cmap="gray", interpolation="nearest")
    _bare(ax, shown)
    if unit.input_indices:
        spans = tuple((min(idx), max(idx) + 1) for idx in unit.input_indices)
        _outline(ax, spans, edgecolor="red", linewidth=2)
        _limits(ax, shown.shape, spans)
        winner = unit.details.get("winner")
        if winner is not None:
            r, c = (0, *winner) if len(winner) == 1 else winner
            ax.plot([c], [r], marker="x", color="yellow", markersize=10, markeredgewidth=2)
    elif unit.position:
        _outline(ax, tuple((p, p + 1) for p in unit.position), edgecolor="red", linewidth=2)
    ax.set_title(f"{unit.source} output, channel {unit.source_channel}\n(what the unit reads)", fontsize=8)


def _draw_output(ax, unit):
    shown = _rows(unit.feature_map)
    ax.imshow(shown, cmap="gray", interpolation="nearest")
    _bare(ax, shown)
    cell = unit.position if unit.position else (unit.channel,)
    _outline(ax, tuple((p, p + 1) for p in cell), edgecolor="red", linewidth=2)
    what = f"channel {unit.channel}" if unit.position else "all units"
    ax.set_title(f"{unit.layer} output, {what}\nthe unit: {_num(unit.value)}", fontsize=8)


def _summary_lines(unit):
    """The arithmetic's last steps, the model's value and the receptive field, as short lines."""
    kind, d = unit.kind, unit.details
    if kind.endswith("convolution") or kind == "dense":
        lines = [
            f"sum of products {_num(unit.total)}",
            f"+ bias {_num(unit.bias)} = {_num(unit.pre_activation)}",
        ]
        if unit.activation != "linear":
            lines.append(f"{unit.activation}: {_num(unit.value)}")
    elif "winner" in d:
        lines = [f"max {_num(unit.value)}", f"at {position_text(d['winner'])}"]
    elif "count" in d:
        lines = [f"sum {_num(unit.total)}", f"/ {d['count']} cells = {_num(unit.value)}"]
    elif "statistics" in d:
        st = d["statistics"]
        lines = [
            f"x = {_num(unit.inputs)}",
            f"mean {_num(st['moving_mean'])}, var {_num(st['moving_variance'])}",
            f"gamma {_num(st['gamma'])}, beta {_num(st['beta'])}",
            f"-> {_num(unit.value)}",
        ]
    else:
        lines = [f"x = {_num(unit.inputs)}", f"-> {_num(unit.value)}"]
    lines += ["", f"the model: {_num(unit.model_value)}", f"(difference {unit.difference:.2g})"]
    if unit.input_size:
        lines += ["", "receptive field (start, stop):", str(unit.receptive_field),
                  "unclipped:", str(unit.receptive_field_unclipped)]
    return lines


def _draw_summary(ax, unit):
    ax.axis("off")
    ax.text(0.0, 1.0, "\n".join(_summary_lines(unit)), va="top", ha="left", family="monospace", fontsize=8,
            transform=ax.transAxes)
    ax.set_title("the arithmetic", fontsize=8)


def _bottom_panels(unit):
    """[(title, 2-D values or None for a Dense's terms, padded marks, cell to outline)]."""
    if unit.kind.endswith("convolution"):
        k = unit.details["channels"].index(unit.source_channel)
        separable = unit.weights.ndim == unit.inputs.ndim + 1
        kernel = unit.weights[..., k, 0] if separable else unit.weights[..., k]
        products = unit.products[..., k, 0] if separable else unit.products[..., k]
        c = unit.source_channel
        panels = [(f"patch (channel {c})", unit.inputs[..., k], unit.padded, None),
                  (f"kernel (channel {c})", kernel, None, None),
                  (f"products (channel {c})", products, unit.padded, None)]
        if len(unit.details["channels"]) > 1 and not separable:
            panels.append(
                (
                    f"products summed over {len(unit.details['channels'])} channels\n"
                    f"(sum {_num(unit.total)})",
                    unit.products.sum(axis=-1),
                    unit.padded,
                    None,
                )
            )
        return [(t, _rows(v), None if m is None else _rows(m), b) for t, v, m, b in panels]
    if unit.kind.endswith("pooling") and unit.inputs.size <= 400:
        best = None
        if "winner" in unit.details:
            tap = tuple(idx.index(w) for idx, w in zip(unit.input_indices, unit.details["winner"]))
            best = (0, *tap) if len(tap) == 1 else tap
        title = f"window (channel {unit.source_channel})"
        return [(title, _rows(unit.inputs), _rows(unit.padded), best)]
    if unit.kind == "dense":
        return [("terms", None, None, None)]
    return []


def _draw_grid(ax, title, values, marks, best):
    from matplotlib.patches import Rectangle

    top = float(np.abs(values).max()) or 1.0
    ax.imshow(values, cmap="RdBu_r", vmin=-top, vmax=top, interpolation="nearest")
    _bare(ax, values)
    if values.size <= 100:
        for (r, c), v in np.ndenumerate(values):
            ax.text(c, r, _num(v), ha="center", va="center", fontsize=7,
                    color="white" if abs(v) > 0.6 * top else "black")
    if marks is not None:
        for r, c in zip(*np.nonzero(marks)):
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="//", edgecolor="grey",
                                   linewidth=0))
    if best is not None:
        _outline(ax, ((best[0], best[0] + 1), (best[1], best[1] + 1)), edgecolor="black", linewidth=2.5)
    ax.set_title(title, fontsize=8)


def _draw_terms(ax, unit):
    terms = unit.details["top_terms"]
    labels = [f"input {i}" for i, *_ in terms]
    heights = [p for *_, p in terms]
    if len(unit.inputs) > len(terms):
        labels.append(f"other {len(unit.inputs) - len(terms)}")
        heights.append(unit.details["rest"])
    labels.append("bias")
    heights.append(unit.bias)
    ax.barh(range(len(heights)), heights, color=["tab:red" if h > 0 else "tab:blue" for h in heights])
    ax.set_yticks(range(len(heights)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title(f"largest terms w*x (sum {_num(unit.total)})", fontsize=8)
