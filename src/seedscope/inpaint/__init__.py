"""The inpainting audit: which seeds paint text into the masked region (Xu et al. 2025, Sec. 6)."""

from seedscope.inpaint.audit import AuditSettings, run_audit, summarise
from seedscope.inpaint.pairs import Pair, load_pairs

__all__ = ["AuditSettings", "Pair", "load_pairs", "run_audit", "summarise"]
