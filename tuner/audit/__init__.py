"""The static audit: read config sources without executing them, then check them."""
