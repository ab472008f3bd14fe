"""`seedscope score` commands (being written)."""
