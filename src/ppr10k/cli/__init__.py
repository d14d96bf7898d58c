"""The ``ppr10k`` command line: argument parsing only; the work is done by library calls."""
