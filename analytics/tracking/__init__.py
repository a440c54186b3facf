"""The write path: the Matomo-compatible tracking endpoint, its queue and the ingest worker."""
