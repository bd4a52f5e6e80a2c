"""DD401/DD402: CUDA_VISIBLE_DEVICES hiding every GPU, or naming GPUs that do not exist."""

from __future__ import annotations

import pytest

from dldoctor.checks import env
from dldoctor.checks.registry import NotApplicable
from dldoctor.model import Severity
from tests.checks.scenarios import gpu_machine, make_facts, shown_all


def cvd(value: str) -> dict:
    return {"env": {"variables": {"CUDA_VISIBLE_DEVICES": value}}}


@pytest.mark.parametrize("value", ["", "-1", "NoDevFiles"])
def test_disabling_values_hide_all_gpus(matrix, value):
    (verdict,) = env.visible_devices_hide_all(make_facts(gpu_machine(8), cvd(value)), matrix)
    assert verdict.severity is Severity.ERROR
    assert "all 8 GPU(s)" in verdict.title
    assert shown_all(verdict.fixes[0]) == ("unset CUDA_VISIBLE_DEVICES",)


def test_unset_does_not_apply(matrix):
    with pytest.raises(NotApplicable):
        env.visible_devices_hide_all(make_facts(gpu_machine()), matrix)


def test_hiding_gpus_on_a_machine_without_gpus_is_not_reported(matrix):
    with pytest.raises(NotApplicable, match="no NVIDIA GPU"):
        env.visible_devices_hide_all(make_facts(cvd("")), matrix)


def test_valid_index_list_is_silent(matrix):
    facts = make_facts(gpu_machine(8), cvd("0,3,7"))
    assert env.visible_devices_hide_all(facts, matrix) == []
    assert env.visible_devices_unknown(facts, matrix) == []


def test_index_beyond_count_after_a_valid_one_drops_the_rest(matrix):
    (verdict,) = env.visible_devices_unknown(make_facts(gpu_machine(2), cvd("1,2,0")), matrix)
    assert verdict.severity is Severity.WARNING
    assert "names 2" in verdict.title and "CUDA sees only 1" in verdict.title


def test_first_entry_invalid_means_no_gpu_at_all(matrix):
    (verdict,) = env.visible_devices_unknown(make_facts(gpu_machine(1), cvd("4")), matrix)
    assert verdict.severity is Severity.ERROR
    assert "CUDA sees no GPU at all" in verdict.title
    assert shown_all(verdict.fixes[0]) == ("export CUDA_VISIBLE_DEVICES=0",)


def test_uuid_prefixes_are_accepted_and_unknown_uuids_are_not(matrix):
    facts = make_facts(gpu_machine(2), cvd("GPU-00000001,GPU-deadbeef"))
    (verdict,) = env.visible_devices_unknown(facts, matrix)
    assert verdict.evidence["invalid"] == ["GPU-deadbeef"]


def _mig(state):
    facts = gpu_machine(1)
    facts["nvidia"]["gpus"][0]["mig"] = state
    return facts


def test_a_mig_uuid_on_a_gpu_without_mig_is_judged_and_found_missing(matrix):
    facts = make_facts(_mig(False), cvd("MIG-11111111-2222-3333-4444-555555555555"))
    (verdict,) = env.visible_devices_unknown(facts, matrix)  # False: the GPU has no MIG at all
    assert verdict.evidence["invalid"] == ["MIG-11111111-2222-3333-4444-555555555555"]
    on = make_facts(_mig({"current": True, "pending": True}), cvd("MIG-1111"))
    assert env.visible_devices_unknown(on, matrix) == []


def test_a_mig_uuid_with_mig_unknown_is_not_judged(matrix):
    from dldoctor.facts.known import Unknown

    facts = make_facts(_mig(None), cvd("MIG-11111111-2222-3333-4444-555555555555"))
    with pytest.raises(Unknown):
        env.visible_devices_unknown(facts, matrix)
