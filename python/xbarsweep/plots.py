"""Figures of sweep results with matplotlib: a metric against a swept parameter (one line per
series, error bars over repeats) and Pareto fronts. Figures are made without pyplot (a Figure
with an Agg canvas: no display, no global state); pass `ax` to draw into your own axes."""
import os

import numpy as np

from . import units
from .errors import Error
from .fronts import objective_matrix, front_mask, parse_objectives

FORMATS = ("png", "svg", "pdf")


def _figure(ax, size=(5.0, 3.6)):
    if ax is not None:
        return ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _is_metric(df, name):
    return name in df.attrs.get("metrics", ()) or name in df.attrs.get("arrays", ())


def _label(df, name):
    return units.label(name, _is_metric(df, name))


def _column(df, name, role):
    if name not in df.columns:
        if role == "metric":
            known = df.attrs.get("metrics") or [c for c in df.columns]
        else:
            known = df.attrs.get("swept_paths") or df.attrs.get("params") or list(df.columns)
        raise Error(f"{role} '{name}': no such column (expected one of: {', '.join(known)})")
    return df[name]


def _done(df):
    rows = df[df["status"] == "done"] if "status" in df.columns else df
    if rows.empty:
        raise Error(f"no done points (of {len(df)} point(s)) to plot")
    return rows


def _numeric(df, name, role):
    column = _column(df, name, role)
    try:
        return column.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise Error(f"{role} '{name}' is not numeric") from None


def _sort_key(values):
    try:
        return sorted(values, key=float)
    except (TypeError, ValueError):
        return sorted(values, key=str)


def _confounders(rows, keys, allowed, params):
    """Parameters other than `allowed` that vary inside one group of `keys`: averaging or
    joining such points would mix different configurations."""
    found = []
    for p in params:
        if p in keys or p in allowed or p not in rows.columns:
            continue
        try:
            varying = rows.groupby(keys, dropna=False)[p].nunique(dropna=False)
        except TypeError:  # unhashable cells
            continue
        if (varying > 1).any():
            found.append(p)
    return found


def _groups_text(keys, values):
    values = values if isinstance(values, tuple) else (values,)
    return ", ".join(f"{k} = {v}" for k, v in zip(keys, values))


def _is_array(df, name):
    return name in df.attrs.get("arrays", ())


def unroll_curves(df, x, y):
    """The done points' curves as rows: for two array columns `x` and `y` that each point
    records with equal lengths (e.g. hw_times_s and hw_accuracy_at_times), one row per element,
    the point's parameters repeated and `x`, `y` scalars. Raises xbarsweep.Error when a column is
    not an array or a point's two arrays differ in length."""
    for name in (x, y):
        _column(df, name, "metric")
        if not _is_array(df, name):
            raise Error(f"'{name}' is not an array column (arrays: {', '.join(df.attrs.get('arrays', ()))})")
    rows = _done(df)
    pieces = []
    for _, row in rows.iterrows():
        xs, ys = np.asarray(row[x], dtype=float), np.asarray(row[y], dtype=float)
        if xs.shape != ys.shape:
            raise Error(f"point {row.get('id', '?')}: '{x}' has {xs.size} values and '{y}' {ys.size}")
        part = rows.loc[[row.name] * xs.size].copy()
        part[x], part[y] = xs, ys
        pieces.append(part)
    import pandas as pd

    out = pd.concat(pieces, ignore_index=True) if pieces else rows.iloc[0:0]
    out.attrs = dict(df.attrs)
    out.attrs["arrays"] = [a for a in df.attrs.get("arrays", ()) if a not in (x, y)]
    out.attrs["metrics"] = list(df.attrs.get("metrics", ())) + [x, y]  # labelled by their units
    return out


def plot_curve(df, x, y, series=None, mean_over=None, logx=False, ax=None, yerr=None):
    """Line plot of metric `y` against parameter `x` over the done points: one line per value of
    `series`, and with `mean_over` (a parameter or a list, e.g. 'seed') the mean over the repeats
    that differ only in those parameters, with error bars of the sample standard deviation.
    `yerr` instead: a metric holding each point's own error (e.g. hw_accuracy_std over device
    samples) drawn as error bars. With `x` and `y` both array columns (a curve per point, e.g.
    hw_times_s and hw_accuracy_at_times), each point's curve is drawn through unroll_curves.
    Points with y = NaN are left out. Returns the Axes: one Line2D
    per series, labelled by the series value (the legend's title names the series), and the
    error bars as ErrorbarContainers in ax.containers.
    Raises xbarsweep.Error when a column is unknown, no done point is left, or points that
    would share a position differ in a parameter not named in series or mean_over."""
    mean_over = [mean_over] if isinstance(mean_over, str) else list(mean_over or [])
    if _is_array(df, x):  # a curve per point: x and y both arrays
        df = unroll_curves(df, x, y)
    if yerr and mean_over:
        raise Error("error bars come from mean_over (s.d. over repeats) or from yerr (a metric), "
                    "not both")
    if yerr:
        _numeric(df, yerr, "metric")
    for name in [x, series] + mean_over:
        if name is not None:
            _column(df, name, "parameter")
    _numeric(df, y, "metric")
    rows = _done(df)
    rows = rows[~np.isnan(rows[y].to_numpy(dtype=float))]
    if rows.empty:
        raise Error(f"metric '{y}' is NaN in every done point")
    keys = ([series] if series else []) + [x]
    params = df.attrs.get("params") or [c for c in df.columns if c not in (y,)]
    confounders = _confounders(rows, keys, mean_over, params)
    if confounders:
        hint = (f"add '{confounders[0]}' to mean_over" if mean_over
                else f"mean_over='{confounders[0]}'")
        raise Error(f"points with the same {' and '.join(keys)} differ in "
                    f"{', '.join(confounders[:4])}{' ...' if len(confounders) > 4 else ''}: "
                    f"{hint}, make it the series, or keep one value (--where {confounders[0]}=...)")
    if logx:
        xv = _numeric(rows, x, "parameter")
        if (xv <= 0).any():
            raise Error(f"logx: parameter '{x}' has values <= 0")

    ax = _figure(ax)
    levels = _sort_key(rows[series].unique()) if series else [None]
    sizes = set()
    for k, level in enumerate(levels):
        part = rows if series is None else rows[rows[series] == level]
        stats = part.groupby(x, dropna=False)[y].agg(["mean", "std", "count"])
        if yerr:
            stats["std"] = part.groupby(x, dropna=False)[yerr].first()
        order = _sort_key(list(stats.index))
        stats = stats.loc[order]
        sizes.update(stats["count"].tolist())
        xs = stats.index.to_numpy()
        label = f"{level}" if series else y
        (line,) = ax.plot(xs, stats["mean"].to_numpy(), marker="o", markersize=4, color=f"C{k % 10}",
                          label=label)
        if mean_over or yerr:
            ax.errorbar(xs, stats["mean"].to_numpy(), yerr=stats["std"].to_numpy(), fmt="none",
                        ecolor=line.get_color(), elinewidth=1, capsize=3, label="_nolegend_")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(_label(df, x))
    ax.set_ylabel(_label(df, y))
    if mean_over:
        n = f"n = {min(sizes)}" if len(sizes) == 1 else f"n = {min(sizes)}..{max(sizes)}"
        ax.set_title(f"mean ± s.d. over {', '.join(mean_over)} ({n})", fontsize="small")
    elif yerr:
        ax.set_title(f"error bars: ± {yerr}", fontsize="small")
    if series:
        ax.legend(title=_label(df, series), fontsize="small", title_fontsize="small")
    ax.grid(True, alpha=0.3)
    return ax


def plot_pareto(df, x, y, objectives, annotate=None, logx=False, ax=None):
    """Scatter of two metrics `x` and `y` over the done points, with the Pareto front under
    `objectives` ('accuracy:max,crossbars:min', any number) highlighted; when the objectives are
    exactly x and y the front is also drawn as a step line (the edge of the dominated region).
    `annotate`: a column (or list) whose values label the front points. Returns the Axes; its
    collections are the scatter of all points, then of the front."""
    parsed = parse_objectives(objectives)
    _numeric(df, x, "metric")
    _numeric(df, y, "metric")
    annotate = [annotate] if isinstance(annotate, str) else list(annotate or [])
    for a in annotate:
        _column(df, a, "parameter")
    rows = _done(df)
    shown = rows[~(np.isnan(rows[x].to_numpy(dtype=float)) | np.isnan(rows[y].to_numpy(dtype=float)))]
    if shown.empty:
        raise Error(f"no done point has both '{x}' and '{y}'")
    candidates, m = objective_matrix(rows, parsed)
    if candidates.empty:
        raise Error(f"no done point has every objective ({', '.join(n for n, _ in parsed)}) as a number")
    front = candidates[front_mask(m)]
    front = front[~(np.isnan(front[x].to_numpy(dtype=float)) | np.isnan(front[y].to_numpy(dtype=float)))]

    ax = _figure(ax)
    ax.scatter(shown[x], shown[y], s=18, color="0.65", label=f"points ({len(shown)})", zorder=2)
    ax.scatter(front[x], front[y], s=34, color="C3", edgecolor="black", linewidth=0.5,
               label=f"Pareto front ({len(front)})", zorder=3)
    directions = dict(parsed)
    if set(directions) == {x, y} and len(front) > 1:
        f = front.sort_values([x, y])
        # x minimised: the front's edge runs right from each point, then to the next one's y.
        ax.step(f[x], f[y], where="post" if directions[x] == "min" else "pre", color="C3",
                linewidth=1, zorder=2, label="_nolegend_")
    middle = np.median(shown[x].to_numpy(dtype=float))
    for _, row in front.iterrows():
        if annotate:
            # labels point inwards, away from the nearer side of the plot
            right = row[x] <= middle
            text = ", ".join(f"{a.rsplit('.', 1)[-1]}={row[a]}" for a in annotate)
            ax.annotate(text, (row[x], row[y]), textcoords="offset points",
                        xytext=(5 if right else -5, 4), ha="left" if right else "right",
                        fontsize="x-small")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(_label(df, x))
    ax.set_ylabel(_label(df, y))
    if annotate:
        ax.margins(x=0.08, y=0.1)
    goal = ", ".join(f"{d} {n}" for n, d in parsed)
    # below the axes: inside, it would cover points or their labels
    ax.legend(title=f"objectives: {goal}", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
              fontsize="small", title_fontsize="small", frameon=False)
    ax.grid(True, alpha=0.3)
    return ax


def save(fig, path):
    """Writes a Figure (or the figure of an Axes) to `path`: .png (200 dpi), .svg (text kept as
    text) or .pdf. Written to a temporary file and renamed, so a failure leaves no partial file.
    Raises xbarsweep.Error for another extension."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise Error(f"{path}: unknown figure format '.{ext}' (expected .png, .svg or .pdf)")
    fig = getattr(fig, "figure", fig)
    if fig.canvas is None or type(fig.canvas).__name__ == "FigureCanvasBase":
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        FigureCanvasAgg(fig)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise Error(f"{path}: the folder {directory} does not exist")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp.{os.getpid()}")
    import matplotlib

    try:
        # text as text (editable, searchable); fixed SVG ids: the same figure, the same file
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "xbarsweep",
                                    "pdf.fonttype": 42}):
            fig.savefig(tmp, format=ext, dpi=200, metadata=_metadata(ext))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _metadata(ext):
    # Reproducible files: no creation date in SVG and PDF.
    if ext == "svg":
        return {"Date": None}
    if ext == "pdf":
        return {"CreationDate": None}
    return None
