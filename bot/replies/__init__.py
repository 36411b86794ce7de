"""Putting a reply on Discord: the writer, splitting, the typing indicator."""
