"""fedsl-sim: discrete-event co-simulation of federated split learning over wireless networks.

Public API::

    sc = fedsl_sim.load_scenario("scenarios/quickstart.yaml", overrides={"learning.split_layer": 2})
    res = fedsl_sim.run(sc, out_dir=None, progress=False)   # -> RunResult
    res.summary, res.out_dir
    res = fedsl_sim.run(sc, out_dir="results/long", checkpoint_every=10)  # resumable
    res = fedsl_sim.resume("results/long")  # after an interruption: continue to the end
"""

from fedsl_sim.scenario import Scenario, ScenarioError, load_scenario

__version__ = "0.1.0"
__all__ = [
    "CheckpointError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "resume",
    "run",
]


def __getattr__(name: str):  # the engine imports torch; keep `import fedsl_sim` light
    if name in ("run", "resume", "RunResult"):
        from fedsl_sim import engine

        return getattr(engine, name)
    if name == "CheckpointError":
        from fedsl_sim import checkpoint

        return checkpoint.CheckpointError
    raise AttributeError(f"module 'fedsl_sim' has no attribute {name!r}")
