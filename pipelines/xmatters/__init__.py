"""xMatters' REST API as a dlt source (`source.py`), with its client, paging, tables and settings.

Kept empty on purpose: the sync's flags and settings are read from this package before anything
heavy is imported, so that the expectations worker starts (and imports GX on the other core) at
once; the source itself imports dlt (~1.3 s).
"""
