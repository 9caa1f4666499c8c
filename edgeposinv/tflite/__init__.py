"""The model contract without TensorFlow: preprocessing, the LiteRT runtime, parallel workers, metadata read/write, inspection. The Android app mirrors this package."""
