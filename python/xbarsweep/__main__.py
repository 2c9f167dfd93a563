"""`python3 -m xbarsweep plot|load|pareto ...` (docs/python.md); `xbarsweep plot` runs this.
Exit codes as the C++ command's: 0 done, 2 bad input (the message names the file, column or
option and what was expected; no output file is written), 1 anything else."""
import argparse
import math
import os
import sys

import numpy as np

from .errors import Error

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def _where_matcher(text):
    """A predicate for one cell value from the text of a --where value: numbers compare as
    numbers (exactly: the text parses to the double the config's text parsed to), bools as
    true/false, strings as given."""
    def matches(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return text in ("", "none", "nan")
        if isinstance(v, (bool, np.bool_)):
            return text.lower() in (("true", "1") if v else ("false", "0"))
        if isinstance(v, str):
            return v == text
        try:
            return float(text) == float(v)
        except ValueError:
            return False
    return matches


def apply_where(df, clauses):
    """Keeps the rows whose column PATH equals VALUE (or one of VALUE1,VALUE2) for every
    'PATH=VALUE' clause."""
    for clause in clauses or []:
        path, sep, values = clause.partition("=")
        path = path.strip()
        if not sep or not path:
            raise Error(f"--where '{clause}': expected PATH=VALUE (e.g. --where admm.levels=16)")
        if path not in df.columns:
            known = df.attrs.get("params") or list(df.columns)
            raise Error(f"--where '{clause}': no column '{path}' (parameters: {', '.join(known)})")
        matchers = [_where_matcher(v.strip()) for v in values.split(",")]
        keep = df[path].map(lambda v: any(m(v) for m in matchers)).astype(bool)
        if not keep.any():
            present = sorted({str(v) for v in df[path]}, key=lambda s: (len(s), s))
            raise Error(f"--where '{clause}': no point has {path} = {values} (values: "
                        f"{', '.join(present[:12])}{' ...' if len(present) > 12 else ''})")
        df = df[keep]
    return df


def _size(text):
    try:
        w, h = (float(v) for v in text.split(","))
        if w > 0 and h > 0:
            return (w, h)
    except ValueError:
        pass
    raise Error(f"--size '{text}': expected WIDTH,HEIGHT in inches (e.g. 5,3.6)")


def _list(text):
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def cmd_plot(args):
    from . import plots
    from .results import load

    suffix = os.path.splitext(args.output)[1].lower()
    if suffix not in FIGURE_SUFFIXES:
        raise Error(f"-o {args.output}: unknown figure format '{suffix}' (expected .png, .svg or .pdf)")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise Error(f"-o {args.output}: the folder {folder} does not exist")
    if args.pareto and (args.series or args.mean_over or args.yerr):
        raise Error("--series, --mean-over and --yerr draw curves; with --pareto, --x and --y are "
                    "two metrics and the points are not grouped")
    if args.annotate and not args.pareto:
        raise Error("--annotate labels the front points of --pareto")
    size = _size(args.size) if args.size else (5.0, 3.6)
    df = apply_where(load(args.files), args.where)
    ax = plots._figure(None, size)
    if args.pareto:
        plots.plot_pareto(df, args.x, args.y, args.pareto, annotate=_list(args.annotate),
                          logx=args.logx, ax=ax)
    else:
        plots.plot_curve(df, args.x, args.y, series=args.series, mean_over=_list(args.mean_over),
                         logx=args.logx, ax=ax, yerr=args.yerr)
    if args.title:
        ax.figure.suptitle(args.title)
    plots.save(ax.figure, args.output)
    return 0


def _table(df, columns, fmt):
    df = df[columns]
    if fmt == "csv":
        return df.to_csv(index=False, float_format="%.17g")
    return df.to_string(index=False) + "\n"


def _summary_columns(df, every):
    if every:
        return [c for c in df.columns if c not in df.attrs.get("arrays", ())]
    cols = ["id", "status"] + [p for p in df.attrs.get("swept_paths", []) if p in df.columns]
    cols += df.attrs.get("metrics", [])
    if (df["status"] == "failed").any():
        cols.append("error")
    return cols


def cmd_load(args):
    from .results import load

    df = apply_where(load(args.files), args.where)
    columns = _list(args.columns) if args.columns else _summary_columns(df, args.all)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise Error(f"--columns: no column '{missing[0]}' (columns: {', '.join(df.columns)})")
    sys.stdout.write(_table(df, columns, args.format))
    return 0


def cmd_pareto(args):
    from .fronts import pareto, parse_objectives
    from .results import load

    objectives = parse_objectives(args.objectives)
    df = apply_where(load(args.files), args.where)
    front = pareto(df, objectives)
    names = [n for n, _ in objectives]
    columns = ["id"] + [p for p in df.attrs.get("swept_paths", []) if p not in names] + names
    columns += [c for c in _list(args.columns) if c not in columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise Error(f"--columns: no column '{missing[0]}' (columns: {', '.join(df.columns)})")
    sys.stdout.write(_table(front, columns, args.format))
    return 0


def parser():
    top = argparse.ArgumentParser(prog="xbarsweep", description="xbarsweep results in Python: "
                                  "load, Pareto fronts, figures (docs/python.md)")
    sub = top.add_subparsers(dest="command", required=True, metavar="{plot,load,pareto}")

    def files_and_where(p):
        p.add_argument("files", nargs="+", metavar="FILE",
                       help="results files (.h5) or glob patterns; points deduplicated by id")
        p.add_argument("--where", action="append", metavar="PATH=VALUE",
                       help="keep the points whose PATH equals VALUE (or one of V1,V2); repeatable")

    plot = sub.add_parser("plot", prog="xbarsweep plot",
                          help="a metric against a swept parameter, or a Pareto front, to PNG/SVG/PDF",
                          description="A metric (--y) against a swept parameter (--x), one line per "
                          "--series value, mean and s.d. over --mean-over; or with --pareto, two "
                          "metrics and the Pareto front.")
    files_and_where(plot)
    plot.add_argument("--x", required=True, metavar="PATH",
                      help="parameter on the x axis (a metric with --pareto)")
    plot.add_argument("--y", required=True, metavar="METRIC", help="metric on the y axis")
    plot.add_argument("--series", metavar="PATH", help="one line per value of this parameter")
    plot.add_argument("--mean-over", metavar="PATH[,PATH]",
                      help="average over these parameters (e.g. seed); error bars: sample s.d.")
    plot.add_argument("--yerr", metavar="METRIC",
                      help="error bars from this metric (e.g. hw_accuracy_std) instead of --mean-over")
    plot.add_argument("--pareto", metavar="OBJECTIVES",
                      help="scatter of --x and --y with the Pareto front of e.g. "
                      "'accuracy:max,crossbars:min'")
    plot.add_argument("--annotate", metavar="PATH[,PATH]", help="with --pareto: label the front points")
    plot.add_argument("--logx", action="store_true", help="logarithmic x axis")
    plot.add_argument("--title", help="figure title")
    plot.add_argument("--size", metavar="W,H", help="figure size in inches (default 5,3.6)")
    plot.add_argument("-o", "--output", required=True, metavar="FIG", help="FIG.png, FIG.svg or FIG.pdf")
    plot.set_defaults(run=cmd_plot)

    ld = sub.add_parser("load", prog="xbarsweep load", help="print the points as a table or CSV")
    files_and_where(ld)
    ld.add_argument("--all", action="store_true", help="every parameter, not only the swept ones")
    ld.add_argument("--columns", metavar="A,B", help="these columns, in this order")
    ld.add_argument("--format", choices=("table", "csv"), default="table")
    ld.set_defaults(run=cmd_load)

    pa = sub.add_parser("pareto", prog="xbarsweep pareto", help="print the Pareto front")
    files_and_where(pa)
    pa.add_argument("--objectives", required=True, metavar="OBJECTIVES",
                    help="e.g. 'accuracy:max,crossbars:min'")
    pa.add_argument("--columns", metavar="A,B", help="more columns to print")
    pa.add_argument("--format", choices=("table", "csv"), default="table")
    pa.set_defaults(run=cmd_pareto)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except Error as e:
        print(f"xbarsweep {args.command}: {e}", file=sys.stderr)
        return 2
    except ImportError as e:  # h5py, pandas or matplotlib not installed
        print(f"xbarsweep {args.command}: {sys.executable} lacks {e.name or e}: install "
              f"python3-h5py, python3-pandas and python3-matplotlib (scripts/setup.sh does)",
              file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
