"""Test-suite settings: hypothesis explores a fixed, seed-derived set of examples (the suite
is deterministic on every machine, CI included) and has no per-example deadline (the
machines are shared; timing is not what these properties test)."""

from hypothesis import settings

settings.register_profile("fedsl", derandomize=True, deadline=None)
settings.load_profile("fedsl")


import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _checkpoint_key_dir(tmp_path_factory):
    """Checkpoints are signed with a per-user key in the configuration folder: the tests use
    their own (subprocesses inherit it through the environment)."""
    import os

    folder = tmp_path_factory.mktemp("fedsl-sim-config")
    old = os.environ.get("FEDSL_SIM_CONFIG_DIR")
    os.environ["FEDSL_SIM_CONFIG_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("FEDSL_SIM_CONFIG_DIR", None)
    else:
        os.environ["FEDSL_SIM_CONFIG_DIR"] = old
