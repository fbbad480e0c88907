"""bb.compress for Bitzel."""
