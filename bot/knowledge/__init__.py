"""A server's own knowledge: reading files, chunking them, and searching the chunks."""
