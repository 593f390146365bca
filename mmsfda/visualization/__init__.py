"""Plotting helpers. Not imported by ``import mmsfda``: nothing here registers, and matplotlib is
only needed (and only imported) when a figure is drawn."""
from .reliability_diagram import load_reliability, plot_reliability  # noqa: F401

__all__ = ['load_reliability', 'plot_reliability']
