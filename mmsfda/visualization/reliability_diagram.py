"""Reliability diagrams from the per-bin data of :class:`mmsfda.evaluation.CalibrationMetric`.

A curve is the dict that ``CalibrationMetric(out_file=...)`` writes as JSON (see
``CalibrationMetric.summarize``): per-bin ``bin_lower``, ``bin_upper``, ``count``, ``conf_sum``,
``correct`` and the scalar ``ECE`` (a fraction). matplotlib is imported when a figure is drawn,
with the Agg canvas and without pyplot, so no global backend is touched.
"""
import json
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Tuple

import numpy as np


def load_reliability(path: str) -> dict:
    """Read a reliability JSON written by ``CalibrationMetric(out_file=path)``."""
    with open(path) as f:
        curve = json.load(f)
    missing = {'bin_lower', 'bin_upper', 'count', 'conf_sum', 'correct'} - set(curve)
    if missing:
        raise ValueError(f'{path} is not a reliability file (missing {sorted(missing)})')
    return curve


def _display_bins(curve: dict) -> Tuple[np.ndarray, ...]:
    """Per-bin arrays for drawing; zero-width bins (torchmetrics' bin {1.0}) join the previous one.

    Returns:
        tuple: lower, upper, count, mean confidence, accuracy (NaN where empty), each (M,).
    """
    lower = np.asarray(curve['bin_lower'], dtype=np.float64)
    upper = np.asarray(curve['bin_upper'], dtype=np.float64)
    sums = [np.asarray(curve[k], dtype=np.float64) for k in ('count', 'conf_sum', 'correct')]
    keep: List[int] = []
    merged = [[] for _ in sums]
    for i in range(len(lower)):
        if upper[i] <= lower[i] and keep:
            for m, s in zip(merged, sums):
                m[-1] += s[i]
            continue
        keep.append(i)
        for m, s in zip(merged, sums):
            m.append(s[i])
    count, conf_sum, correct = (np.asarray(m) for m in merged)
    with np.errstate(invalid='ignore', divide='ignore'):
        mean_conf = np.where(count > 0, conf_sum / count, np.nan)
        acc = np.where(count > 0, correct / count, np.nan)
    return lower[keep], upper[keep], count, mean_conf, acc


def _draw_panel(ax_rel, ax_hist, label: str, curve: dict) -> None:
    lower, upper, count, mean_conf, acc = _display_bins(curve)
    width = upper - lower
    filled = count > 0
    ax_rel.bar(lower[filled], acc[filled], width=width[filled], align='edge', color='#3b75af',
               edgecolor='#1f3f5f', linewidth=0.6, label='accuracy')
    gap_bottom = np.minimum(acc, mean_conf)[filled]
    gap_height = np.abs(mean_conf - acc)[filled]
    ax_rel.bar(lower[filled], gap_height, bottom=gap_bottom, width=width[filled], align='edge',
               color='#d62728', alpha=0.35, edgecolor='#d62728', hatch='//', linewidth=0.6,
               label='gap to mean confidence')
    ax_rel.plot([0, 1], [0, 1], linestyle='--', color='0.35', linewidth=1, label='perfect')
    ax_rel.set_xlim(0, 1)
    ax_rel.set_ylim(0, 1)
    ax_rel.set_ylabel('accuracy')
    ax_rel.set_aspect('equal', adjustable='box')
    ax_rel.legend(loc='upper left', fontsize=7)
    ece = curve.get('ECE')
    title = label if ece is None else f'{label}\nECE = {ece:.4f} ({100 * ece:.2f}%)'
    ax_rel.set_title(title, fontsize=9)

    total = max(count.sum(), 1)
    ax_hist.bar(lower, count / total, width=width, align='edge', color='0.55', edgecolor='0.3',
                linewidth=0.5)
    if count.sum() > 0:
        ax_hist.set_yscale('log')
        ax_hist.axvline(np.nansum(mean_conf * count) / total, color='#d62728', linewidth=1,
                        label='avg confidence')
        ax_hist.axvline(np.nansum(acc * count) / total, color='#3b75af', linewidth=1,
                        linestyle='--', label='accuracy')
        ax_hist.legend(loc='upper left', fontsize=7)
    ax_hist.set_xlim(0, 1)
    ax_hist.set_xlabel('confidence')
    ax_hist.set_ylabel('fraction of pixels')


def _draw_overlay(ax_rel, ax_hist, curves: Dict[str, dict]) -> None:
    ax_rel.plot([0, 1], [0, 1], linestyle='--', color='0.35', linewidth=1)
    for label, curve in curves.items():
        lower, upper, count, mean_conf, acc = _display_bins(curve)
        filled = count > 0
        ece = curve.get('ECE')
        name = label if ece is None else f'{label} (ECE {100 * ece:.2f}%)'
        line, = ax_rel.plot(mean_conf[filled], acc[filled], marker='o', markersize=3, label=name)
        ax_hist.step(np.append(lower, upper[-1]),
                     np.append(count, count[-1:]) / max(count.sum(), 1), where='post',
                     color=line.get_color())
    ax_rel.set_xlim(0, 1)
    ax_rel.set_ylim(0, 1)
    ax_rel.set_aspect('equal', adjustable='box')
    ax_rel.set_ylabel('accuracy')
    ax_rel.set_title('comparison', fontsize=9)
    ax_rel.legend(loc='upper left', fontsize=7)
    ax_hist.set_xlim(0, 1)
    ax_hist.set_yscale('log')
    ax_hist.set_xlabel('confidence')
    ax_hist.set_ylabel('fraction of pixels')


def plot_reliability(curves: Dict[str, dict],
                     out_file: str,
                     title: Optional[str] = None,
                     overlay: Optional[bool] = None,
                     dpi: int = 120) -> str:
    """Draw reliability diagrams side by side and write a PNG atomically.

    Each panel shows the accuracy per confidence bin (bars) against the diagonal, the gap to the
    bin's mean confidence (shaded) and, below, the confidence histogram (fraction of valid pixels
    per bin, log scale) with the average confidence and the accuracy.

    Args:
        curves (dict[str, dict]): Label -> reliability dict (``load_reliability``), in panel order.
        out_file (str): Path of the PNG.
        title (str, optional): Figure title.
        overlay (bool, optional): Add a last panel that overlays all curves. Defaults to None,
            meaning: when there is more than one curve.
        dpi (int): Resolution. Defaults to 120.

    Returns:
        str: ``out_file``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not curves:
        raise ValueError('no curve to plot')
    if overlay is None:
        overlay = len(curves) > 1
    num_cols = len(curves) + int(overlay)
    fig = Figure(figsize=(3.6 * num_cols, 5.4), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, num_cols, height_ratios=[3, 1.2], hspace=0.35, wspace=0.3)
    for col, (label, curve) in enumerate(curves.items()):
        _draw_panel(fig.add_subplot(grid[0, col]), fig.add_subplot(grid[1, col]), label, curve)
    if overlay:
        _draw_overlay(fig.add_subplot(grid[0, -1]), fig.add_subplot(grid[1, -1]), curves)
    if title:
        fig.suptitle(title)

    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix='.tmp-', suffix='.png')
    os.close(fd)
    try:
        fig.savefig(tmp, format='png', bbox_inches='tight')
        os.replace(tmp, out_file)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return out_file
