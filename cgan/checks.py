"""The one integer check every module's arguments go through: a clear ValueError naming the argument and the range."""

import numbers


def check_int(name, value, low, high=None):
    """`value` as an int in [low, high] (high None: no bound), or ValueError naming `name` and the allowed values."""
    rule = f"an integer {low}-{high}" if high is not None else f"a whole number, {low} or more"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {rule}, got {value}")
    return int(value)
