"""Grover's wire contract: message catalog, codec, error codes, limits,
protocol version, and the Python client SDK."""
