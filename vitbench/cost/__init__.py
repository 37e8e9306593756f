"""Cost analysis: closed form (`analytic`) and measured counters (`counters`), one `Breakdown` record.

Nothing here imports torch at module level; `counters` imports it inside its functions.
"""

from vitbench.cost.breakdown import MATMUL_COMPONENTS, Breakdown, ParamBreakdown

__all__ = ["MATMUL_COMPONENTS", "Breakdown", "ParamBreakdown"]
