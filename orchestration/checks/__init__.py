"""Blocking data-quality checks on the staged `c1` tables: nothing is published unless all pass."""
