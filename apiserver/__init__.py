"""A self-hostable secrets API server speaking Grafana's secret.grafana.app/v1beta1 over Kubernetes conventions."""

__version__ = "0.1.0"
