"""The Android app over adb: evaluation on the phone, pulling captured datasets — no TensorFlow."""
