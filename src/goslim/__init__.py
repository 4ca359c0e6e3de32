"""goslim: the smallest Go container image that provably works."""

__version__ = "0.1.0"
