"""Training and inference machinery: batching, encoding conversion, devices, the training loop."""
