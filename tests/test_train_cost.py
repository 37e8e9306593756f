"""Training compute, device-time and money (vitbench.cost.train_cost), against hand-computed numbers and the ViT
paper's published pre-training figures (Dosovitskiy et al. 2021, Tables 2 and 6; docs/training.md)."""

import pytest

from vitbench.cost.analytic import macs
from vitbench.cost.train_cost import device_seconds, images_seen, implied_mfu, macs_per_image, train_cost
from vitbench.cost.training import training_macs
from vitbench.errors import VitbenchError
from vitbench.hardware import by_key
from vitbench.zoo import resolve

JFT_IMAGES = 303_000_000  # "JFT ... with 18k classes and 303M high-resolution images" (ViT paper, section 4.1)
JFT_CLASSES = 18_291  # Sun et al. 2017


def jft(model):
    return resolve(model, 224, num_classes=JFT_CLASSES)  # "all training is done on resolution 224" (appendix B.1)


def test_images_seen():
    assert images_seen(images=1000) == 1000
    assert images_seen(dataset_size=JFT_IMAGES, epochs=14) == 4_242_000_000
    assert images_seen(dataset_size=1_281_167, epochs=0.5) == 640_584  # rounded to a whole image
    for bad in (dict(), dict(images=10, epochs=2), dict(dataset_size=10), dict(images=0), dict(dataset_size=5, epochs=-1)):
        with pytest.raises(VitbenchError):
            images_seen(**bad)


def test_device_time_and_money_by_hand():
    cfg = resolve("vit_b16", 224)
    run = train_cost(cfg, 1_000_000, "a100", dtype="bf16", mfu=0.4, price_per_hour=2.0)
    flops = 2 * training_macs(cfg).model * 1_000_000
    seconds = flops / (0.4 * 312e12)
    assert (run.flops, run.macs) == (flops, flops // 2)
    assert run.device_seconds == pytest.approx(seconds, rel=1e-12)
    assert run.device_hours == pytest.approx(seconds / 3600, rel=1e-12)
    assert run.device_days == pytest.approx(seconds / 86400, rel=1e-12)
    assert run.cost == pytest.approx(2.0 * seconds / 3600, rel=1e-12)
    assert train_cost(cfg, 1_000_000, "a100", mfu=0.4).cost is None


@pytest.mark.parametrize("mfu", [0.05, 0.3205, 0.61, 1.0])
def test_the_inverse_gives_back_the_mfu(mfu):
    cfg = jft("vit_h14")
    forward = train_cost(cfg, 10**9, "tpu-v3-core", mfu=mfu)
    back = train_cost(cfg, 10**9, "tpu-v3-core", device_days=forward.device_days)
    assert back.mfu == pytest.approx(mfu, rel=1e-12)
    assert implied_mfu(forward.flops, forward.device_days, 61.5) == pytest.approx(mfu, rel=1e-12)


# (model, epochs, Table 6 exaFLOPs as printed, ours with the "3x-forward" convention): within 0.15 % but for
# ViT-B/32 (+2.3 %); the paper calls its figures estimates and does not say how it counted (docs/training.md).
TABLE6 = [("vit_b32", 7, 55, 56.3), ("vit_b16", 7, 224, 223.7), ("vit_l32", 7, 196, 195.9),
          ("vit_l16", 7, 783, 783.6), ("vit_l16", 14, 1567, 1567.1), ("vit_h14", 14, 4262, 4258.6)]


@pytest.mark.parametrize("model,epochs,paper,ours", TABLE6, ids=str)
def test_vit_paper_table6_exaflops_from_its_inputs(model, epochs, paper, ours):
    """3 × forward FLOPs × 303M images × epochs at 224 px, 18,291 classes."""
    run = train_cost(jft(model), images_seen(dataset_size=JFT_IMAGES, epochs=epochs), "tpu-v3-core", mfu=0.5,
                     convention="3x-forward")
    assert run.flops / 1e18 == pytest.approx(ours, abs=0.05)
    assert abs(ours / paper - 1) < (0.024 if model == "vit_b32" else 0.0015)


def test_vit_paper_table2_core_days_imply_an_mfu():
    """ViT-H/14, JFT-300M, 14 epochs at 224 px: 2.5k TPUv3-core-days (Table 2) at 61.5 TFLOP/s bf16 per core."""
    cfg = jft("vit_h14")
    images = images_seen(dataset_size=JFT_IMAGES, epochs=14)
    run = train_cost(cfg, images, "tpu-v3-core", device_days=2500)
    flops = 2 * training_macs(cfg).model * images
    assert run.mfu == pytest.approx(flops / (2500 * 86400 * 61.5e12), rel=1e-12)
    assert round(run.mfu, 4) == 0.3205
    assert train_cost(cfg, images, "tpu-v3-chip", device_days=1250).mfu == pytest.approx(run.mfu, rel=1e-12)


def test_conventions_differ_by_the_patch_embed_input_gradient():
    cfg = resolve("vit_h14", 224)
    assert macs_per_image(cfg, convention="3x-forward") - macs_per_image(cfg) == macs(cfg).patch_embed


def test_bad_inputs_are_one_line_errors():
    cfg = resolve("vit_b16")
    with pytest.raises(VitbenchError, match="exactly one"):
        train_cost(cfg, 10, "h100")
    with pytest.raises(VitbenchError, match="exactly one"):
        train_cost(cfg, 10, "h100", mfu=0.3, device_days=1)
    with pytest.raises(VitbenchError, match=r"MFU must be in \(0, 1\]"):
        train_cost(cfg, 10, "h100", mfu=1.5).device_seconds
    with pytest.raises(VitbenchError, match="no fp32 peak"):
        train_cost(cfg, 10, "tpu-v4-chip", dtype="fp32", mfu=0.5)
    with pytest.raises(VitbenchError, match="imply an MFU"):
        train_cost(jft("vit_h14"), 4_242_000_000, "tpu-v3-core", device_days=100)
    with pytest.raises(VitbenchError, match="unknown device"):
        train_cost(cfg, 10, "tpu-v9", mfu=0.5)
    with pytest.raises(VitbenchError, match="convention"):
        macs_per_image(cfg, convention="6N")
    with pytest.raises(VitbenchError):
        device_seconds(1e18, 100.0, 0.0)


def test_device_table_entries_used_here():
    assert by_key("tpu-v3-core").peak_tflops("bf16") == 61.5 and by_key("a100").peak_tflops("amp-bf16") == 312.0
