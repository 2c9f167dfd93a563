"""xbarsweep's Python side (docs/python.md).

- `xbarsweep.load(paths)`: results files (snapshot and journal, several files, globs) as one
  pandas DataFrame, one row per point.
- `xbarsweep.pareto(df, "accuracy:max,crossbars:min")`: the non-dominated points.
- `xbarsweep.plot_curve`, `plot_pareto`, `save`: matplotlib figures (PNG, SVG, PDF);
  `unroll_curves`: the curves points record (two array columns) as rows.
- `python3 -m xbarsweep plot|load|pareto ...`: the same from the command line.
- `xbarsweep.models`: the built-in models in PyTorch, with the module names and forward passes of
  the C++ ones, to export to TorchScript (`model.name: torchscript`) or to compare against.

Import from the source tree with `sys.path.insert(0, "python")` (or `pip install -e python/`).
Submodules load on first use: `xbarsweep.models` needs only torch, `load` and `pareto` need h5py,
numpy and pandas, the plots matplotlib."""
import importlib

from .errors import Error

__all__ = ["Error", "load", "read_journal", "pareto", "plot_curve", "plot_pareto", "save", "unroll_curves"]

_LAZY = {"load": "results", "read_journal": "results", "pareto": "fronts",
         "plot_curve": "plots", "plot_pareto": "plots", "save": "plots",
         "unroll_curves": "plots"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'xbarsweep' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
