"""The agent loop and its tools: what the assistant may look up, for whom."""
