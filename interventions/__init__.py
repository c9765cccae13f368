"""The intervention library: plans keyed to client goals, stored as validated TOML data files.

A library: it never imports `textual` or `companion`.
"""

from interventions.data_taps import DEFAULT_PROMPT_LEVELS, DataKind, DataTap
from interventions.errors import PlanError
from interventions.library import SHIPPED_DIR, Library, default_user_dir
from interventions.loader import read_plan
from interventions.plan import Adaptations, Plan
from interventions.suggest import GoalWords, Suggestion
from interventions.tempo_preset import TempoPreset, TempoRamp
from interventions.vocabulary import Approach, Format, GoalDomain, Method, Place, Technique

__all__ = [
    "DEFAULT_PROMPT_LEVELS",
    "SHIPPED_DIR",
    "Adaptations",
    "Approach",
    "DataKind",
    "DataTap",
    "Format",
    "GoalDomain",
    "GoalWords",
    "Library",
    "Method",
    "Place",
    "Plan",
    "PlanError",
    "Suggestion",
    "Technique",
    "TempoPreset",
    "TempoRamp",
    "default_user_dir",
    "read_plan",
]
