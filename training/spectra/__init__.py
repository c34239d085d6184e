"""Training the spectral prediction models (paper 000 §3-§4): data, losses, loop."""
