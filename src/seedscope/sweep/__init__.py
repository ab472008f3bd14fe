"""Seed sweeps: plan → shards → batched generation → atomic shard writes (engines: local, ray)."""

from seedscope.sweep.engines import Engine, LocalEngine, RayEngine, make_engine
from seedscope.sweep.generate import BatchGenerator
from seedscope.sweep.plan import SweepPlan
from seedscope.sweep.prompts import load_prompts
from seedscope.sweep.run import SweepOptions, SweepResult, run_sweep
from seedscope.sweep.shards import Shard, plan_shards
from seedscope.sweep.tasks import GenerationSpec, ShardSink, ShardTask

__all__ = [
    "BatchGenerator",
    "Engine",
    "GenerationSpec",
    "LocalEngine",
    "RayEngine",
    "Shard",
    "ShardSink",
    "ShardTask",
    "SweepOptions",
    "SweepPlan",
    "SweepResult",
    "load_prompts",
    "make_engine",
    "plan_shards",
    "run_sweep",
]
