"""Contract suites of the storage ports, run against every backend."""
