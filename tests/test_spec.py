"""vitbench.measure.spec: a train spec's optimizer and checkpointing, an infer spec's single runtime key."""

import dataclasses

import pytest

from vitbench.errors import VitbenchError
from vitbench.measure.spec import BenchSpec, validate


def test_a_train_spec_defaults_to_adamw_and_keeps_what_it_is_given():
    assert BenchSpec(mode="train").optimizer == "adamw"
    spec = BenchSpec(mode="train", optimizer="sgd", grad_checkpoint=True)
    assert (spec.optimizer, spec.grad_checkpoint) == ("sgd", True)
    assert dataclasses.replace(spec, batch=4).optimizer == "sgd"  # replace keeps it (max-batch trials do this)


def test_an_infer_spec_has_no_optimizer_and_no_checkpointing():
    """One runtime key per inference point: a grid that varies them over infer points yields equal points."""
    spec = BenchSpec(mode="infer", optimizer="sgd", grad_checkpoint=True)
    assert (spec.optimizer, spec.grad_checkpoint) == (None, False)
    assert spec == BenchSpec()


def test_a_spec_survives_the_trip_to_an_isolated_child():
    spec = BenchSpec(mode="train", optimizer="sgd", grad_checkpoint=True)
    assert BenchSpec(**dataclasses.asdict(spec)) == spec


@pytest.mark.parametrize("spec, message", [
    (BenchSpec(mode="train", optimizer="lamb"), "unknown optimizer 'lamb'; valid: adamw, sgd"),
    (BenchSpec(mode="train", grad_checkpoint="yes"), "grad_checkpoint must be true or false"),
    (BenchSpec(mode="finetune"), "unknown mode 'finetune'"),
])
def test_bad_training_settings_are_one_line_errors(spec, message):
    with pytest.raises(VitbenchError, match=message):
        validate(spec, ("latency",))
