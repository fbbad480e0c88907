"""A small addpylib namespace for Bitzel's code reader tests."""
BBIMPORTS = ["checks"]
