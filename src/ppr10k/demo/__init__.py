"""`ppr10k demo`: the whole job on the built-in sample set, ending in an HTML report."""

from ppr10k.demo.pipeline import FULL, QUICK, DemoResult, DemoSettings, run_demo

__all__ = ["FULL", "QUICK", "DemoResult", "DemoSettings", "run_demo"]
