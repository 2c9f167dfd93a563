"""Pareto fronts of sweep results: the non-dominated points over any number of objectives."""
import numpy as np

from .errors import Error


def parse_objectives(objectives):
    """[(metric, 'max'|'min'), ...] from 'accuracy:max,crossbars:min' or a list of
    (metric, direction) pairs or 'metric:direction' strings."""
    if isinstance(objectives, str):
        objectives = [o for o in objectives.split(",") if o.strip()]
    parsed = []
    for o in objectives:
        if isinstance(o, str):
            name, sep, direction = o.strip().rpartition(":")
            if not sep:
                name, direction = o.strip(), ""
        else:
            try:
                name, direction = o
            except (TypeError, ValueError):
                raise Error(f"objective {o!r}: expected 'metric:max' or 'metric:min'") from None
        name, direction = str(name).strip(), str(direction).strip().lower()
        if not name or direction not in ("max", "min"):
            raise Error(f"objective '{o if isinstance(o, str) else ':'.join(map(str, o))}': "
                        f"expected 'metric:max' or 'metric:min'")
        if any(name == n for n, _ in parsed):
            raise Error(f"objective '{name}' is given twice")
        parsed.append((name, direction))
    if not parsed:
        raise Error("no objectives: expected e.g. 'accuracy:max,crossbars:min'")
    return parsed


def objective_matrix(df, objectives):
    """(rows, M): the done rows with every objective a number (not NaN), and their objective
    values as an n x k float matrix oriented so that larger is better."""
    objectives = parse_objectives(objectives)
    for name, _ in objectives:
        if name not in df.columns:
            known = [c for c in df.attrs.get("metrics", df.columns)]
            raise Error(f"objective '{name}': no such column (metrics: {', '.join(known) or 'none'})")
    rows = df[df["status"] == "done"] if "status" in df.columns else df
    values = []
    for name, direction in objectives:
        try:
            v = rows[name].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise Error(f"objective '{name}': not a numeric column") from None
        values.append(v if direction == "max" else -v)
    m = np.column_stack(values) if values else np.empty((len(rows), 0))
    keep = ~np.isnan(m).any(axis=1)
    return rows[keep], m[keep]


def front_mask(m):
    """Non-dominated rows of m (n x k, larger is better): a row is dominated when another is >= on
    every column and > on one. Equal rows do not dominate each other: all of them are kept."""
    n = len(m)
    if n == 0:
        return np.zeros(0, dtype=bool)
    unique, inverse = np.unique(m, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    # Lexicographically descending: a dominating vector is lexicographically greater than the
    # one it dominates, so it comes first; checking each vector against the front found so far
    # suffices (a vector dominated by a dominated one is dominated by a front vector too).
    order = np.lexsort(unique.T[::-1])[::-1]
    u = unique[order]
    on_front = np.zeros(len(u), dtype=bool)
    if u.shape[1] == 2:
        # distinct vectors, first column non-increasing: dominated iff an earlier one is >= on
        # the second column.
        best_before = np.concatenate(([-np.inf], np.maximum.accumulate(u[:-1, 1])))
        on_front = u[:, 1] > best_before
    else:
        front = np.empty((0, u.shape[1]))
        for i, v in enumerate(u):
            if not (front >= v).all(axis=1).any():
                on_front[i] = True
                front = np.vstack([front, v])
    unique_on_front = np.zeros(len(u), dtype=bool)
    unique_on_front[order] = on_front
    return unique_on_front[inverse]


def pareto(df, objectives):
    """The non-dominated rows of `df` under `objectives` ('accuracy:max,crossbars:min' or
    [('accuracy', 'max'), ('crossbars', 'min')]; any number of them). Only done points whose
    objectives are all numbers take part; points equal on every objective are all kept (neither
    dominates). Returns a copy of those rows, best first on the first objective (ties by the next,
    then in their order in df), with the original index."""
    parsed = parse_objectives(objectives)
    rows, m = objective_matrix(df, parsed)
    mask = front_mask(m)
    front, fm = rows[mask], m[mask]
    order = np.lexsort((-fm).T[::-1]) if len(fm) else np.zeros(0, dtype=int)  # stable on ties
    return front.iloc[order].copy()
