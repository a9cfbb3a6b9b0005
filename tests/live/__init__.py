"""Tests against the real Novita API, skipped without NOVITA_API_KEY."""
