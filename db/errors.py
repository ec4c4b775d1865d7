"""The root of every domain exception: cli.py turns these into one clean error line."""


class PipelineError(Exception):
    """A mistake the user can fix; the message says what was found, what was expected, and the fix."""
