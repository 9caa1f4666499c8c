"""The evaluation harness: evaluate, sweeps, metrics, the HTML report, compare — no TensorFlow."""
