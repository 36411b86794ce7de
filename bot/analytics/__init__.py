"""What Greenflash calls are built on: outage handling and rating verdicts."""
