"""matplotlib without a display: every figure the toolkit draws goes through :func:`pyplot`."""

from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (works on a headless Pi or CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
