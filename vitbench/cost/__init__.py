"""Cost analysis: closed form (`analytic`) and measured counters (`counters`, with `counter_fixes`,
`attribution` and `training_count`), one `Breakdown` record.

Nothing here imports torch at module level; the counters import it inside their functions.
"""

from vitbench.cost.breakdown import MATMUL_COMPONENTS, Breakdown, ParamBreakdown

__all__ = ["MATMUL_COMPONENTS", "Breakdown", "ParamBreakdown"]
