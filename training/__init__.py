"""sphereapp training toolkit: datasets, losses, training loop and verification evaluation."""
