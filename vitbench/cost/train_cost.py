"""What a training run costs: total compute, device-time at an MFU, the MFU a reported device-time implies, money.
No torch.

    compute      = training MACs per image × images seen;  FLOPs = 2 × MACs
                   MACs per image: `vitbench.cost.training.training_macs(cfg, attn).model` (forward + backward,
                   no recomputation: the MFU convention) by default; convention "3x-forward" uses 3 × forward
                   MACs instead (the convention of the ViT paper's Table 6 and of "6·N·D" estimates: it also
                   counts a gradient for the input image that autograd never computes)
    images seen  = `images`, or dataset size × epochs
    device-time  = FLOPs / (MFU × peak), peak = dense datasheet FLOP/s of one device unit (a GPU, a TPU chip or
                   a TPU core: `vitbench.hardware`) at the training precision; in device-seconds, -hours, -days
                   (a device-day is 86,400 device-seconds: N devices for D days = N·D device-days)
    implied MFU  = FLOPs / (device-days × 86,400 × peak)   (the inverse)
    money        = device-hours × price per device-hour
"""

from __future__ import annotations

from dataclasses import dataclass

from vitbench.cells import canonical
from vitbench.cost.analytic import macs
from vitbench.cost.training import training_macs
from vitbench.hardware import PRECISION_OF_DTYPE, DevicePeak, by_key
from vitbench.errors import VitbenchError
from vitbench.zoo import ViTConfig

CONVENTIONS = ("model", "3x-forward")
SECONDS_PER_DAY = 86_400


def images_seen(images: int | None = None, dataset_size: int | None = None, epochs: float | None = None) -> int:
    """`images`, or dataset_size × epochs (rounded to a whole image); exactly one of the two forms."""
    if images is not None:
        if dataset_size is not None or epochs is not None:
            raise VitbenchError("give images, or dataset size and epochs, not both")
        if images <= 0:
            raise VitbenchError(f"images must be positive, got {images}")
        return int(images)
    if dataset_size is None or epochs is None:
        raise VitbenchError("give images, or dataset size and epochs")
    if dataset_size <= 0 or epochs <= 0:
        raise VitbenchError(f"dataset size and epochs must be positive, got {dataset_size} and {epochs}")
    return round(dataset_size * epochs)


def macs_per_image(cfg: ViTConfig, attn: str = "sdpa", convention: str = "model") -> int:
    """Training MACs per image under a convention (module docstring)."""
    if convention == "model":
        return training_macs(cfg, attn).model
    if convention == "3x-forward":
        return 3 * macs(cfg).total
    raise VitbenchError(f"unknown convention {convention!r}; valid: {', '.join(CONVENTIONS)}")


def device_seconds(flops: float, peak_tflops: float, mfu: float) -> float:
    """Seconds of one device unit running at `mfu` of a `peak_tflops` (1e12 FLOP/s) peak."""
    if not 0 < mfu <= 1:
        raise VitbenchError(f"MFU must be in (0, 1], got {mfu}")
    return flops / (mfu * peak_tflops * 1e12)


def implied_mfu(flops: float, device_days: float, peak_tflops: float) -> float:
    """The MFU at which `flops` take `device_days` on a device with a `peak_tflops` peak."""
    if device_days <= 0:
        raise VitbenchError(f"device-days must be positive, got {device_days}")
    return flops / (device_days * SECONDS_PER_DAY * peak_tflops * 1e12)


@dataclass(frozen=True)
class TrainCost:
    """One training run on one kind of device. MACs and FLOPs are totals over all images seen."""

    images: int
    macs_per_image: int
    device: DevicePeak
    precision: str
    mfu: float
    price_per_hour: float | None = None

    @property
    def macs(self) -> int:
        return self.macs_per_image * self.images

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def peak_tflops(self) -> float:
        peak = self.device.peak_tflops(self.precision)
        if peak is None:
            raise VitbenchError(f"{self.device.label} has no {self.precision} peak in the datasheet table; it has "
                             f"{', '.join(self.device.tflops)}")
        return peak

    @property
    def device_seconds(self) -> float:
        return device_seconds(self.flops, self.peak_tflops, self.mfu)

    @property
    def device_hours(self) -> float:
        return self.device_seconds / 3600

    @property
    def device_days(self) -> float:
        return self.device_seconds / SECONDS_PER_DAY

    @property
    def cost(self) -> float | None:
        """device-hours × price per device-hour (the price's currency), or None without a price."""
        return None if self.price_per_hour is None else self.device_hours * self.price_per_hour


def train_cost(cfg: ViTConfig, images: int, device: DevicePeak | str, *, dtype: str = "bf16",
               mfu: float | None = None, device_days: float | None = None, price_per_hour: float | None = None,
               attn: str = "sdpa", convention: str = "model") -> TrainCost:
    """The cost of training `cfg` on `images` images on `device` (a `vitbench.hardware` key or entry).

    Give `mfu` (device-time follows) or `device_days` (a reported figure; the MFU it implies follows)."""
    entry = by_key(device) if isinstance(device, str) else device
    precision = PRECISION_OF_DTYPE.get(dtype, dtype)
    if (mfu is None) == (device_days is None):
        raise VitbenchError("give an MFU or reported device-days (exactly one)")
    per_image = macs_per_image(cfg, attn, convention)
    if mfu is None:
        probe = TrainCost(images, per_image, entry, precision, 1.0)
        mfu = implied_mfu(probe.flops, device_days, probe.peak_tflops)
        if mfu > 1:
            raise VitbenchError(f"{device_days:g} device-days of a {entry.label} imply an MFU of {mfu:.3g} > 1: "
                                f"the compute does not fit that device-time at its {precision} peak")
    run = TrainCost(images, per_image, entry, precision, mfu, price_per_hour)
    run.peak_tflops  # noqa: B018 - a precision the device lacks fails here, not later
    if price_per_hour is not None and price_per_hour < 0:
        raise VitbenchError(f"price per device-hour must be >= 0, got {price_per_hour}")
    return run


@dataclass(frozen=True)
class MeasuredMfu:
    """An MFU taken from a measured `bench --mode train` row, and one line saying which row."""

    mfu: float
    source: str


def measured_mfu(rows: list[dict], cfg: ViTConfig, dtype: str, where: str = "the file") -> MeasuredMfu:
    """The MFU of the best measured training step of `cfg` (the same config: every architecture field and the
    resolution, not only the name) at `dtype`'s
    precision among result rows: mode 'train', status 'ok', an MFU (CUDA rows on a GPU the datasheet table
    knows; CPU rows have none). The highest MFU wins (the batch a real run would pick); VitbenchError (one
    line) when no row qualifies."""
    precision = PRECISION_OF_DTYPE.get(dtype, dtype)

    def usable(row: dict) -> bool:
        mfu = row.get("mfu")
        return (row.get("mode") == "train" and row.get("status") == "ok" and isinstance(mfu, (int, float))
                and mfu == mfu and mfu > 0)

    config = {c: canonical(v) for c, v in cfg.to_row().items()}

    def same_model(row: dict) -> bool:  # every architecture field and the resolution, not just the name
        return all(canonical(row.get(c)) == v for c, v in config.items())

    train = [r for r in rows if usable(r)]
    found = [r for r in train if same_model(r) and PRECISION_OF_DTYPE.get(r.get("dtype"), r.get("dtype")) == precision]
    if not found:
        had = ", ".join(sorted({f"{r['model']} P{canonical(r.get('patch'))} {canonical(r.get('res_h'))}x"
                                f"{canonical(r.get('res_w'))} {r.get('dtype')}" for r in train}))
        had = had or "none; CPU rows have no datasheet peak, so no MFU"
        raise VitbenchError(f"{where} has no ok train row with an MFU for {cfg.name} at {cfg.res_label} px in "
                            f"{precision} (train rows with an MFU: {had}); give --mfu")
    best = max(found, key=lambda r: r["mfu"])
    source = (f"measured: {best['model']} P{canonical(best.get('patch'))} {canonical(best.get('res_h'))} px batch "
              f"{canonical(best.get('batch'))} {best['dtype']} "
              f"{best['attn']} on {best.get('device_name') or best.get('device')}")
    return MeasuredMfu(float(best["mfu"]), source)
