"""Figures: what plot_curve and plot_pareto draw (read back from the matplotlib objects), the
files save writes (PNG, SVG, PDF), and `python3 -m xbarsweep plot` with good and bad input."""
import os
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import python_cli, run_sweep

import xbarsweep as xs


def series_lines(ax):
    """The data lines (one per series); error-bar caps are unlabelled."""
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


@pytest.fixture(scope="module")
def timed(sweep_dir):
    """A sweep over a parameter with a unit (synthetic.work_ms, ms): 3 x 2 seeds, no failures."""
    out = os.path.join(sweep_dir, "timed.h5")
    run_sweep(sweep_dir, "name: timed\nkind: synthetic\nsweep:\n  grid:\n"
              "    synthetic.work_ms: [0.1, 1, 10]\n  repeats: 2\n", out, check=0)
    return out


def test_curve_mean_over_seeds(synthetic):
    df = xs.load(synthetic)
    ax = xs.plot_curve(df, "synthetic.x", "value", series="synthetic.label", mean_over="seed")
    lines = series_lines(ax)
    assert [line.get_label() for line in lines] == ["a", "b"]
    assert ax.get_legend().get_title().get_text() == "synthetic.label"
    assert ax.get_xlabel() == "synthetic.x" and ax.get_ylabel() == "value"
    done = df[(df["status"] == "done") & df["value"].notna()]
    for line, label in zip(lines, ["a", "b"]):
        part = done[done["synthetic.label"] == label]
        stats = part.groupby("synthetic.x")["value"].agg(["mean", "std", "count"])
        np.testing.assert_array_equal(line.get_xdata(), stats.index.to_numpy())
        np.testing.assert_allclose(line.get_ydata(), stats["mean"].to_numpy(), rtol=1e-15, atol=0)
    assert len(ax.containers) == 2  # one ErrorbarContainer per series
    # error bar half-lengths: the sample standard deviation (ddof 1) over the seeds
    bars = ax.containers[0].lines[2][0].get_segments()
    part = done[done["synthetic.label"] == "a"].groupby("synthetic.x")["value"].std(ddof=1)
    for seg, std in zip(bars, part.to_numpy()):
        if not np.isnan(std):
            assert abs((seg[1][1] - seg[0][1]) / 2 - std) < 1e-12, (seg, std)
    assert ax.get_title().startswith("mean ± s.d. over seed")


def test_curve_refuses_mixed_configurations(synthetic):
    df = xs.load(synthetic)
    with pytest.raises(xs.Error, match=r"differ in seed: mean_over='seed'"):
        xs.plot_curve(df, "synthetic.x", "value", series="synthetic.label")
    with pytest.raises(xs.Error, match=r"differ in synthetic.label"):
        xs.plot_curve(df, "synthetic.x", "value", mean_over="seed")
    with pytest.raises(xs.Error, match=r"parameter 'nope': no such column \(expected one of: "
                                       r"synthetic.x, synthetic.label, seed\)"):
        xs.plot_curve(df, "nope", "value")
    with pytest.raises(xs.Error, match=r"metric 'curve' is not numeric"):
        xs.plot_curve(df, "synthetic.x", "curve")
    with pytest.raises(xs.Error, match=r"no done points"):
        xs.plot_curve(df[df["status"] == "failed"], "synthetic.x", "value", mean_over="seed")


def test_curve_units_logx_and_yerr(timed):
    df = xs.load(timed)
    ax = xs.plot_curve(df, "synthetic.work_ms", "work_ms", mean_over="seed", logx=True)
    assert ax.get_xlabel() == "synthetic.work_ms [ms]"  # from docs/parameters.md
    assert ax.get_ylabel() == "work_ms [ms]"  # from the metric's suffix
    assert ax.get_xscale() == "log"
    (line,) = series_lines(ax)
    np.testing.assert_array_equal(line.get_xdata(), [0.1, 1, 10])
    np.testing.assert_array_equal(line.get_ydata(), [0.1, 1, 10])
    one = df[df["seed"] == df["seed"].min()]
    ax = xs.plot_curve(one, "synthetic.work_ms", "value", yerr="work_ms")
    assert len(ax.containers) == 1 and ax.get_title() == "error bars: ± work_ms"
    with pytest.raises(xs.Error, match="logx: parameter 'seed' has values <= 0"):
        xs.plot_curve(df, "seed", "value", mean_over="synthetic.work_ms", logx=True)


def test_pareto_plot(synthetic):
    df = xs.load(synthetic)
    objectives = "value:max,synthetic.x:min"
    ax = xs.plot_pareto(df, "synthetic.x", "value", objectives, annotate="seed")
    front = xs.pareto(df, objectives)
    points, highlighted = ax.collections[:2]
    done = df[(df["status"] == "done") & df["value"].notna()]
    assert len(points.get_offsets()) == len(done)
    got = sorted(map(tuple, np.asarray(highlighted.get_offsets())))
    assert got == sorted(zip(front["synthetic.x"], front["value"]))
    steps = series_lines(ax)
    assert steps == [] and len([line for line in ax.get_lines()]) == 1  # the step line
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"points ({len(done)})",
                                                                  f"Pareto front ({len(front)})"]
    assert len(ax.texts) == len(front)  # annotations
    # Objectives other than the two axes: the front is highlighted, no step line is drawn.
    ax = xs.plot_pareto(df, "synthetic.x", "value", "value:max,synthetic.x:min,seed:max")
    assert ax.get_lines() == []


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    return struct.unpack(">II", head[16:24])


def test_save_formats(tmp_path, synthetic):
    df = xs.load(synthetic)
    ax = xs.plot_curve(df, "synthetic.x", "value", series="synthetic.label", mean_over="seed")
    png = xs.save(ax.figure, tmp_path / "curve.png")
    w, h = _png_size(png)
    assert (w, h) == (1000, 720) and os.path.getsize(png) > 20000
    svg = xs.save(ax, str(tmp_path / "curve.svg"))
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    texts = ["".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")]
    assert "synthetic.x" in texts and "value" in texts and "synthetic.label" in texts
    assert "a" in texts and "b" in texts
    pdf = xs.save(ax.figure, tmp_path / "curve.pdf")
    assert open(pdf, "rb").read(5) == b"%PDF-"
    with pytest.raises(xs.Error, match=r"curve\.bmp: unknown figure format '\.bmp' \(expected "
                                       r"\.png, \.svg or \.pdf\)"):
        xs.save(ax.figure, tmp_path / "curve.bmp")
    assert sorted(os.listdir(tmp_path)) == ["curve.pdf", "curve.png", "curve.svg"]


def test_plot_command(tmp_path, synthetic):
    figures = []
    for name in ("front.svg", "again.svg"):
        fig = tmp_path / name
        p = python_cli("plot", synthetic, "--x", "synthetic.x", "--y", "value", "--pareto",
                       "value:max,synthetic.x:min", "--where", "synthetic.label=a", "-o", fig)
        assert p.returncode == 0 and p.stdout == "" and p.stderr == "", p
        assert ET.parse(fig).getroot().tag.endswith("svg")
        figures.append(fig.read_bytes())
    assert figures[0] == figures[1], "the same results must give the same SVG file"
    fig = tmp_path / "curve.png"
    p = python_cli("plot", synthetic, "--x", "synthetic.x", "--y", "value", "--series",
                   "synthetic.label", "--mean-over", "seed", "--title", "synthetic", "-o", fig)
    assert p.returncode == 0, p.stderr
    assert _png_size(fig)[0] > 500 and os.path.getsize(fig) > 20000


@pytest.mark.parametrize("args, message", [
    (["{missing}", "--x", "synthetic.x", "--y", "value"], "missing.h5: no results file"),
    (["{file}", "--x", "nope", "--y", "value", "--mean-over", "seed"], "parameter 'nope': no such column"),
    (["{file}", "--x", "synthetic.x", "--y", "nope", "--mean-over", "seed"], "metric 'nope': no such column"),
    (["{file}", "--x", "synthetic.x", "--y", "value", "--where", "synthetic.x=99"],
     "--where 'synthetic.x=99': no point has synthetic.x = 99"),
    (["{file}", "--x", "synthetic.x", "--y", "value", "--where", "nope=1"], "--where 'nope=1': no column 'nope'"),
    (["{file}", "--x", "synthetic.x", "--y", "value", "--where", "synthetic.x"], "expected PATH=VALUE"),
    (["{file}", "--x", "synthetic.x", "--y", "value", "--mean-over", "seed,synthetic.label",
      "--where", "status=failed"], "no done points"),
    (["{file}", "--x", "synthetic.x", "--y", "value", "--pareto", "value:up"],
     "objective 'value:up': expected 'metric:max' or 'metric:min'"),
    (["{file}", "--x", "synthetic.x", "--y", "value", "--pareto", "value:max", "--series", "seed"],
     "--series, --mean-over and --yerr draw curves"),
    (["{file}", "--x", "synthetic.x", "--y", "value"], "differ in"),
])
def test_plot_command_bad_input(tmp_path, synthetic, args, message):
    fig = tmp_path / "fig.png"
    args = [a.format(file=synthetic, missing=tmp_path / "missing.h5") for a in args]
    p = python_cli("plot", *args, "-o", fig)
    assert p.returncode == 2, p
    assert p.stderr.startswith("xbarsweep plot: ") and message in p.stderr, p.stderr
    assert os.listdir(tmp_path) == [], "bad input must write nothing"


def test_plot_command_bad_output(tmp_path, synthetic):
    for out, message in [(tmp_path / "fig.bmp", "unknown figure format '.bmp'"),
                         (tmp_path / "fig", "unknown figure format ''"),
                         (tmp_path / "no" / "fig.png", "does not exist")]:
        p = python_cli("plot", synthetic, "--x", "synthetic.x", "--y", "value", "-o", out)
        assert p.returncode == 2 and message in p.stderr and str(out) in p.stderr, p.stderr
    p = python_cli("plot", synthetic, "--y", "value", "-o", tmp_path / "fig.png")
    assert p.returncode == 2 and "--x" in p.stderr  # argparse: a required option is missing
    assert os.listdir(tmp_path) == []


def curves_frame():
    """Three done points recording a curve each (arrays t and acc), one failed point."""
    import pandas as pd

    df = pd.DataFrame({
        "id": ["a", "b", "c", "d"], "status": ["done", "done", "done", "failed"],
        "mode": ["x", "x", "y", "y"], "seed": [1, 2, 1, 2],
        "t": [[1.0, 10.0, 100.0], [1.0, 10.0, 100.0], [1.0, 10.0, 100.0], None],
        "acc": [[0.9, 0.8, 0.7], [0.8, 0.7, 0.6], [0.9, 0.9, 0.9], None],
    })
    df.attrs.update(params=["mode", "seed"], swept_paths=["mode", "seed"], metrics=[], arrays=["t", "acc"])
    return df


def test_curves_recorded_by_points_are_drawn_against_each_other():
    df = curves_frame()
    rows = xs.unroll_curves(df, "t", "acc")
    assert len(rows) == 9 and set(rows["id"]) == {"a", "b", "c"}
    ax = xs.plot_curve(df, "t", "acc", series="mode", mean_over="seed", logx=True)
    lines = series_lines(ax)
    assert [line.get_label() for line in lines] == ["x", "y"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [1.0, 10.0, 100.0])
    np.testing.assert_allclose(lines[0].get_ydata(), [0.85, 0.75, 0.65], rtol=1e-12)
    np.testing.assert_allclose(lines[1].get_ydata(), [0.9, 0.9, 0.9], rtol=1e-12)
    assert ax.get_xscale() == "log"
    bad = curves_frame()
    bad.at[1, "acc"] = [0.8, 0.7]
    with pytest.raises(xs.Error, match=r"point b: 't' has 3 values and 'acc' 2"):
        xs.unroll_curves(bad, "t", "acc")
    with pytest.raises(xs.Error, match=r"'mode' is not an array column"):
        xs.unroll_curves(df, "mode", "acc")
