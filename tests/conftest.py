"""Test-suite settings: hypothesis explores a fixed, seed-derived set of examples (the suite
is deterministic on every machine, CI included) and has no per-example deadline (the
machines are shared; timing is not what these properties test)."""

from hypothesis import settings

settings.register_profile("fedsl", derandomize=True, deadline=None)
settings.load_profile("fedsl")
