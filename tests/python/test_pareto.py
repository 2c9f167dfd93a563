"""xbarsweep.pareto against the definition, checked by brute force: 2 to 4 objectives, max and
min, many ties, failed points and NaN metrics."""
import itertools

import numpy as np
import pandas as pd
import pytest

import xbarsweep as xs
from xbarsweep.fronts import front_mask


def brute_force(df, objectives):
    """Index labels of the non-dominated done rows, straight from the definition."""
    rows = df[(df["status"] == "done")]
    rows = rows[~rows[[n for n, _ in objectives]].isna().any(axis=1)]
    sign = np.array([1.0 if d == "max" else -1.0 for _, d in objectives])
    v = rows[[n for n, _ in objectives]].to_numpy(dtype=float) * sign
    keep = set()
    for i in range(len(v)):
        dominated = any((v[j] >= v[i]).all() and (v[j] > v[i]).any() for j in range(len(v)) if j != i)
        if not dominated:
            keep.add(rows.index[i])
    return keep


def random_points(rng, n, k):
    """n points, k metrics drawn from few values (ties on single metrics and on all of them),
    about 10% failed and 10% with a NaN metric; a shuffled, non-default index."""
    values = rng.integers(0, 5, size=(n, k)).astype(float)
    if n > 3:
        values[1] = values[0]  # an exact duplicate
    status = np.where(rng.random(n) < 0.1, "failed", "done")
    nan = rng.random((n, k)) < 0.03
    values[nan] = np.nan
    df = pd.DataFrame(values, columns=[f"m{j}" for j in range(k)])
    df.insert(0, "status", status)
    df.index = rng.permutation(n) * 10 + 7
    return df


@pytest.mark.parametrize("k", [2, 3, 4])
def test_matches_brute_force(k):
    rng = np.random.default_rng(100 + k)
    for trial in range(60):
        n = int(rng.integers(0, 70))
        df = random_points(rng, n, k)
        objectives = [(f"m{j}", rng.choice(["max", "min"])) for j in range(k)]
        got = xs.pareto(df, objectives)
        want = brute_force(df, objectives)
        assert set(got.index) == want, (trial, k, objectives, sorted(set(got.index) ^ want))
        assert got["status"].eq("done").all() and not got[[f"m{j}" for j in range(k)]].isna().any().any()


def test_two_objective_sweep_equals_general_case():
    """The 2-objective shortcut gives what the general loop gives (a constant third objective
    changes no dominance)."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        m = rng.integers(0, 8, size=(int(rng.integers(1, 300)), 2)).astype(float)
        general = front_mask(np.column_stack([m, np.zeros(len(m))]))
        np.testing.assert_array_equal(front_mask(m), general)


def test_ties_and_order():
    df = pd.DataFrame({"status": ["done"] * 6 + ["failed"],
                       "accuracy": [0.9, 0.9, 0.9, 0.8, 0.95, 0.7, 0.99],
                       "crossbars": [10, 10, 12, 5, 20, 5, 1]})
    front = xs.pareto(df, "accuracy:max,crossbars:min")
    # rows 0 and 1 are equal: both kept; 2 is beaten by 0 on crossbars alone; 5 by 3 on accuracy
    # alone; 6 failed.
    assert list(front.index) == [4, 0, 1, 3], front
    assert list(xs.pareto(df, [("crossbars", "min"), ("accuracy", "max")]).index) == [3, 0, 1, 4]
    one = xs.pareto(df, "accuracy:max")
    assert list(one.index) == [4]


def test_all_objective_forms_agree():
    rng = np.random.default_rng(3)
    df = random_points(rng, 50, 3)
    a = xs.pareto(df, "m0:max, m1:min,m2:max")
    b = xs.pareto(df, [("m0", "max"), ("m1", "min"), ("m2", "MAX")])
    c = xs.pareto(df, ["m0:max", "m1:min", "m2:max"])
    assert list(a.index) == list(b.index) == list(c.index)


@pytest.mark.parametrize("objectives, message", [
    ("accuracy", "expected 'metric:max' or 'metric:min'"),
    ("accuracy:up", "expected 'metric:max' or 'metric:min'"),
    ("", "no objectives"),
    ("accuracy:max,accuracy:min", "given twice"),
    ("nope:max", "objective 'nope': no such column"),
    ("label:max", "objective 'label': not a numeric column"),
])
def test_bad_objectives(objectives, message):
    df = pd.DataFrame({"status": ["done"], "accuracy": [0.5], "label": ["a"]})
    with pytest.raises(xs.Error, match=message):
        xs.pareto(df, objectives)


def test_on_real_results(synthetic):
    df = xs.load(synthetic)
    objectives = [("value", "max"), ("synthetic.x", "min")]
    front = xs.pareto(df, objectives)
    assert set(front.index) == brute_force(df, objectives) and len(front) >= 1
    # every x value's best value, kept only when no smaller x does as well
    for (i, a), (j, b) in itertools.combinations(front.iterrows(), 2):
        assert not (a["value"] >= b["value"] and a["synthetic.x"] <= b["synthetic.x"]
                    and (a["value"], a["synthetic.x"]) != (b["value"], b["synthetic.x"]))
