"""Tests of the C1 sync format layer (`pipelines/c1z`)."""
