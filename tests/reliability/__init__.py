"""Fault, load, secret and transport tests over every model class."""
