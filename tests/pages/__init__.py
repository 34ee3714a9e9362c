"""Recipe pages written for the tests, and a local HTTP server that serves them."""
