"""The test suite: one package, so helpers are imported by their full name (``tests.x.y``)."""
