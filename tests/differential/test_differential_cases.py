"""Every case in cases/ on every target: the normalised result must equal the recording made on
the real control plane, and (with more than one target) the targets must equal each other."""

from __future__ import annotations

import pytest
from runner import CASES_DIR, diff, dump, load_cases, run_case


def _result(case, target_name, differential_targets, differential_results):
    key = (case.name, target_name)
    if key not in differential_results:
        observed = run_case(differential_targets[target_name], case)
        differential_results[key] = (observed, None)
    return differential_results[key][0]


@pytest.mark.controlplane
def test_case_matches_recording(case, target_name, differential_targets, differential_results):
    assert case.expect is not None, (
        f"{case.path.name} has no `expect:`; record it on the real control plane: "
        f"python tests/differential/runner.py --kubeconfig <real> --record --case {case.name}")
    observed = _result(case, target_name, differential_targets, differential_results)
    problems = diff(case.expect, observed)
    differential_results[(case.name, target_name)] = (observed, not problems)
    assert not problems, (f"{target_name} differs from the real server's recording in "
                          f"{case.path.name}:\n  " + "\n  ".join(problems)
                          + "\nobserved:\n" + dump(observed))


@pytest.mark.controlplane
def test_targets_agree(case, differential_targets, differential_results):
    names = list(differential_targets)
    assert len(names) >= 2, "collected only with DIFFERENTIAL_TARGETS naming a second target"
    results = {n: _result(case, n, differential_targets, differential_results) for n in names}
    ref = results[names[0]]
    problems = [f"{n}: {p}" for n in names[1:] for p in diff(ref, results[n])]
    assert not problems, "\n".join(problems)


def test_case_files_are_well_formed():
    cases = load_cases(CASES_DIR)
    assert len(cases) >= 60
    for c in cases:
        assert {"description", "reference"} <= set(c.data), c.path
        assert c.data.get("request") or c.data.get("setup") or c.data.get("steps"), c.path
