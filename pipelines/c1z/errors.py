"""The two ways the format layer fails: bad input to the writer, or a file the reader cannot trust."""


class C1ZWriteError(Exception):
    """The rows handed to the writer break a rule of the C1 sync format (e.g. a dangling grant)."""


class C1ZFormatError(Exception):
    """A file is not a readable v1 `.c1z`; the message is one line that says why."""
