"""Process-wide guards: logs, the loop watchdog, foreground, uncancelled requests, the
request budget, the discord.py patch, command sync."""
