"""fedsl-sim: discrete-event co-simulation of federated split learning over wireless networks.

Public API::

    sc = fedsl_sim.load_scenario("scenarios/quickstart.yaml", overrides={"learning.split_layer": 2})
    res = fedsl_sim.run(sc, out_dir=None, progress=False)   # -> RunResult
    res.summary, res.out_dir
"""

from fedsl_sim.scenario import Scenario, ScenarioError, load_scenario

__version__ = "0.1.0"
__all__ = ["RunResult", "Scenario", "ScenarioError", "load_scenario", "run"]


def __getattr__(name: str):  # the engine imports torch; keep `import fedsl_sim` light
    if name in ("run", "RunResult"):
        from fedsl_sim import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'fedsl_sim' has no attribute {name!r}")
