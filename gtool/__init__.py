"""gtool: Grafana access-control toolkit."""

__version__ = "0.1.0"
