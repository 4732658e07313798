"""Small builders shared by the tests."""

from __future__ import annotations

from warrantd import AutonomyState, GraduationThresholds

S = AutonomyState.SUPERVISED
A = AutonomyState.AUTONOMOUS


def make_thresholds(
    sup: tuple[float, float, int] = (0.80, 0.70, 50),
    aut: tuple[float, float, int] = (0.95, 0.90, 200),
) -> GraduationThresholds:
    """Thresholds from (pass_rate, adversarial_pass_rate, min_samples) per state."""
    return GraduationThresholds(
        pass_rate={S: sup[0], A: aut[0]},
        adversarial_pass_rate={S: sup[1], A: aut[1]},
        min_samples={S: sup[2], A: aut[2]},
    )
