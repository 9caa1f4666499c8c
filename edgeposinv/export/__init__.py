"""From a run folder to a .tflite: quantization modes, conversion, delivery. May import TensorFlow."""
