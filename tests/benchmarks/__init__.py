"""Benchmarks: scripts that print figures, run as ``python -m tests.benchmarks.<name>``.

They are not tests (pytest collects only ``test_*.py``) and assert nothing about speed. Each
starts the stand-ins in this process and the bot, as a worker runs it, in a child process,
so the bot's memory, CPU time and tasks are its own; every ratio is taken within one run.
"""
