"""The Keras side: models, backbones, the tf.data pipeline, schedules, checkpoints, QAT, train and run folders. May import TensorFlow."""
