"""A Kubernetes API server emulator for the offline test bed: stdlib HTTP server, in-memory store, synchronous controllers."""
