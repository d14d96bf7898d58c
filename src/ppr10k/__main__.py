"""``python -m ppr10k ...``: the ``ppr10k`` command (also what ``torchrun -m ppr10k`` runs)."""

from ppr10k.cli.main import exit_with, main

if __name__ == "__main__":
    exit_with(main())
