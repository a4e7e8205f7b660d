"""Infrastructure every stage uses and none owns: atomic writes (fsutil), logs and progress bars,
the environment record, the lazy TensorFlow import, signal handling, the tfjs-node build."""
