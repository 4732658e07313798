"""The bundled Inspect AI logs (datasets/support-agent-evals) load with the default mapping."""

from __future__ import annotations

from pathlib import Path

from warrantd import load_policy
from warrantd.analytics import load_history, replay, validate_against
from warrantd.analytics.importers import logs_frame, unmapped_frame

DATA = Path(__file__).resolve().parents[3] / "datasets"


def test_support_agent_logs_load_and_replay() -> None:
    history = load_history(DATA / "support-agent-evals" / "inspect", format="inspect")
    policy = load_policy(DATA / "support-agent.policy.toml")
    assert validate_against(history, policy).ok
    assert int(history["n"].sum()) == 478
    assert set(history["action"]) == {"lookup_customer", "update_address", "issue_refund"}
    adversarial = history[history["adversarial"]]
    assert set(adversarial["task"]) == {"prompt_injection"} and len(adversarial) == 144
    assert len(logs_frame(history)) == 48
    unmapped = unmapped_frame(history)
    assert unmapped["kind"].tolist() == ["error", "error"]
    assert history["timestamp"].dt.strftime("%Y-%m-%d").nunique() == 12
    summary = replay(history, policy, window="21D").summary.set_index("action")
    assert summary.loc["lookup_customer", "final_state"] == "AUTONOMOUS"
