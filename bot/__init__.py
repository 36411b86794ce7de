"""greenflash-discord-bot: a Discord AI chatbot that logs its conversations to Greenflash."""

__version__ = "0.2.0"
