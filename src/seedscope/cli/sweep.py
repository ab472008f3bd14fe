"""`seedscope sweep` commands (being written)."""
