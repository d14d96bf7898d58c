"""Every GPU figure of issue 11 side by side, in one run (under 5 minutes on one GPU).

    python benchmarks/bench_gpu.py [--device cuda] [--quick] [--sections kernels,...]
                                   [--official-src DIR]

Runs each section in ``benchmarks/gpu_sections/`` (see that package's docstring for how to add
one) and prints one table: section, figure, value, unit, the baseline it is compared with and
the ratio to that baseline (measured in the same run). ``--quick`` uses tiny sizes and few
repeats: ``--device cpu --quick`` runs in seconds and is what the smoke test runs. A section
that fails prints one failed row and the exit code is 1; the other sections still run.

Options that sections add (``kernels``): ``--official-src DIR`` builds the official 3D-LUT
CUDA kernel from its source in DIR (never part of this repository) and times it beside ours.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

import torch

SECTIONS_DIR = Path(__file__).resolve().parent / "gpu_sections"


def discover() -> dict[str, ModuleType]:
    """The section modules by name, in file-name order."""
    if str(SECTIONS_DIR.parent) not in sys.path:
        sys.path.insert(0, str(SECTIONS_DIR.parent))
    names = sorted(p.stem for p in SECTIONS_DIR.glob("*.py") if not p.stem.startswith("_"))
    return {name: importlib.import_module(f"gpu_sections.{name}") for name in names}


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_table(rows: list[dict]) -> str:
    """Rows as an aligned text table (one header line, one line per row)."""
    header = ["section", "figure", "value", "unit", "baseline", "ratio", "note"]
    lines = [[r["section"], r["name"], format_value(r["value"]), r["unit"], r["baseline"],
              "-" if r["ratio"] is None else f"{r['ratio']:.2f}x", r["note"]] for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    out = []
    for line in [header, *lines]:
        cells = [str(c).rjust(w) if i in (2, 5) else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def run_sections(sections: dict[str, ModuleType], device: torch.device, quick: bool,
                 args: argparse.Namespace) -> tuple[list[dict], bool]:
    """All rows, and whether every section ran without an exception."""
    rows, ok = [], True
    for name, module in sections.items():
        try:
            if hasattr(module, "configure"):
                module.configure(args)
            found = module.run(device, quick)
        except Exception as error:  # noqa: BLE001 (one failed section must not hide the others)
            ok = False
            message = str(error).strip().splitlines()
            found = [{"name": "section failed", "value": None, "unit": "", "baseline": "",
                      "ratio": None,
                      "note": f"{type(error).__name__}: {message[0] if message else ''}"[:200]}]
        rows.extend({"section": name, **r} for r in found)
        print(f"[{name}: {len(found)} rows]", file=sys.stderr, flush=True)
    return rows, ok


def main(argv: list[str] | None = None) -> int:
    sections = discover()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="torch device (default cuda)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats")
    parser.add_argument("--sections", default="",
                        help=f"comma-separated subset of: {', '.join(sections)}")
    for module in sections.values():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"bench_gpu.py: --device {args.device}: no CUDA device here; use --device cpu",
              file=sys.stderr)
        return 2
    if args.sections:
        wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in sections]
        if unknown:
            print(f"bench_gpu.py: --sections: unknown {', '.join(unknown)}; choose from "
                  f"{', '.join(sections)}", file=sys.stderr)
            return 2
        sections = {s: sections[s] for s in wanted}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, device {device} ({name}), "
          f"{'quick' if args.quick else 'full'} run")
    rows, ok = run_sections(sections, device, args.quick, args)
    print(format_table(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
