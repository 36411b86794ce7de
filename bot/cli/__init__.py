"""The command line: run, doctor, invite, migrate; start-up checks and exit codes."""
