"""Deep generative models: the VAE, GANs, RealNVP flows, energy and score models, MADE.

Used in: chapters 2 and 4 (the VAE as latent diffusion's autoencoder).
"""
