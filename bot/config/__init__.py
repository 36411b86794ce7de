"""Settings read once from the environment, and the committed product ids."""
