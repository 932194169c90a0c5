"""The decision-rights policy: its language, loading with file:line:column errors, compilation."""

from policy.errors import PolicyIssue, PolicyLoadError
from policy.loader import load_policy, load_policy_text, read_policy_text

__all__ = ["PolicyIssue", "PolicyLoadError", "load_policy", "load_policy_text", "read_policy_text"]
