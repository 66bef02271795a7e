"""The gRPC edge and surfaces: Grafana's decrypt service (see server.py); protos/ and generated/ beside."""


class GrpcPortError(RuntimeError):
    """The gRPC port could not be bound (a start-up error)."""
