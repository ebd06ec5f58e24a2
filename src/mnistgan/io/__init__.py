"""Files mnistgan writes and reads back: training state (state.py) and generator weights
(weights.py). Nothing here imports train/: sampling, evaluation and export load through it."""
