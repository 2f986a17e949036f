"""What is kept on disk and where: atomic writes, safe loads, the cache folder."""
