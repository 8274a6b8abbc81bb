"""Classic generative modelling before deep learning: n-gram language models, generative
vs discriminative classifiers, and exponential growth fits.

Used in: chapter 1.
"""
