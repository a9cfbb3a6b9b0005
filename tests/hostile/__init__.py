"""Wire tests against a raw-socket server whose every byte is scripted."""
