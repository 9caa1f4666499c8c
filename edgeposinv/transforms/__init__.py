"""Geometry, photometric changes, augmentation and backgrounds — no TensorFlow; training and evaluation apply the same parameters."""
