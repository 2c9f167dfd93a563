"""The one error type of the Python side: bad input (a file, a column, an option), with a message
that names it and says what was expected. `python3 -m xbarsweep` exits 2 on it."""


class Error(ValueError):
    """Bad input: a results file that is missing or not ours, an unknown column, bad objectives,
    an output format we cannot write."""
