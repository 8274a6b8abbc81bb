"""Serving chat models: an OpenAI-compatible server and one client for every backend."""
