"""Offline datasets: generated here, shipped in the package, or shipped with a dependency."""
