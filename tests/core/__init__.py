"""Tests of the framework-free core and the offline server."""
