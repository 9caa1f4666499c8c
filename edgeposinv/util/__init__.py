"""Small shared helpers: atomic file writes, progress bars, machine description — no TensorFlow."""
