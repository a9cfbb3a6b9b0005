"""Tests of the LangChain adapter, its standard suites included."""
