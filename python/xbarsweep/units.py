"""Units of parameters and metrics, for axis labels. Parameters: the Unit column of
docs/parameters.md (printed by `xbarsweep kinds --format markdown` from the declarations).
Metrics: the unit suffix of their snake_case name (`power_mw`, `area_mm2`, `wall_s`)."""
import functools
import os
import re

# Unit suffixes of metric names (README: "Metric names are snake_case with units").
METRIC_SUFFIX_UNITS = {
    "mm2": "mm²", "um2": "µm²", "w": "W", "mw": "mW", "uw": "µW", "j": "J", "mj": "mJ",
    "uj": "µJ", "nj": "nJ", "pj": "pJ", "s": "s", "ms": "ms", "us": "µs", "ns": "ns",
}


def _pretty(unit):
    unit = unit.replace("^2", "²").replace("Ohm", "Ω")
    return "µ" + unit[1:] if len(unit) > 1 and unit[0] == "u" else unit


def parameters_doc():
    """docs/parameters.md of the source tree ($XBARSWEEP_SOURCE_DIR, else the tree this package
    lives in), or None."""
    roots = [os.environ.get("XBARSWEEP_SOURCE_DIR"),
             os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]
    for root in roots:
        if root and os.path.isfile(os.path.join(root, "docs", "parameters.md")):
            return os.path.join(root, "docs", "parameters.md")
    return None


@functools.lru_cache(maxsize=None)
def parameter_units(path=None):
    """{dotted path: unit} from the tables of docs/parameters.md (columns `parameter` and `unit`);
    {} when the file is absent."""
    path = path or parameters_doc()
    if not path:
        return {}
    units, columns = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("|"):
                columns = None
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if columns is None:
                columns = [c.lower() for c in cells]
                continue
            if "parameter" not in columns or "unit" not in columns or set(line) <= set("|-: \n"):
                continue
            name = re.fullmatch(r"`([^`]+)`", cells[columns.index("parameter")])
            unit = cells[columns.index("unit")] if len(cells) > columns.index("unit") else ""
            if name and unit:
                units[name.group(1)] = _pretty(unit)
    return units


def unit_of(name, is_metric):
    """The unit of a parameter (dotted path) or a metric (by its suffix), or ''."""
    if not is_metric:
        return parameter_units().get(name, "")
    suffix = name.rsplit("_", 1)[-1] if "_" in name else ""
    return METRIC_SUFFIX_UNITS.get(suffix, "")


def label(name, is_metric):
    """An axis label: the column name, with its unit in brackets when known."""
    unit = unit_of(name, is_metric)
    return f"{name} [{unit}]" if unit else name
