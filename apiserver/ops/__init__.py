"""Operating the server: health checks and metrics (generic; no secret knowledge)."""
