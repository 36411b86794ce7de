"""What a message means: triggers, mention cleaning, memory, personas, notices."""
