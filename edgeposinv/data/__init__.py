"""Dataset folders, image reading, statistics, the embedded demo digits and calibration sets — no TensorFlow."""
