"""The demo that `make run` loads and `make demo-reply` drives; no product code imports it."""
