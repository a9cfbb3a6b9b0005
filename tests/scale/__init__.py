"""Scale tests: fork and pickle safety, bounded fan-out, loop shutdown, Ray."""
