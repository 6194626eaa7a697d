"""Real third-party auth stacks, run bare and with the one line, case by case."""
