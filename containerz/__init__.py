"""containerz-py: a gNOI Containerz server on a real Docker engine."""

__version__ = "0.1.0"
