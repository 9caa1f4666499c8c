"""edgeposinv: position-robust image classifiers for the device that will run them."""

__version__ = "0.1.0"
