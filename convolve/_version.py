"""The version of convolve: one place, read by the package, the CLI, model files and the build."""
__version__ = "0.1.0"
