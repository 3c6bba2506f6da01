"""Everything that touches the outside world: gateway, sidecar, storage
backends, cluster transport, configuration, logging."""
