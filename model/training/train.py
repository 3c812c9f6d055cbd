"""Train the default models: ``python -m model.training --out artifacts [--versions v1,v2]``.

Each version is a torchvision ResNet-18 (``weights=None``, the standard stem) trained on
scikit-learn's digits upscaled to 3x32x32, through ``model.images.normalise`` exactly as
the transformer serves them. Writes ``<out>/<version>/`` (weights, drift encoder, drift
reference, metadata.json with sha256s) and ``<out>/examples/``. A version whose artifacts
already verify is skipped unless ``--force``. Exits non-zero if a model is below
``MIN_ACCURACY`` on the held-out split.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model import artifacts
from model.architectures import DRIFT_ENCODING_DIM, build_classifier, drift_encoder
from model.errors import ArtifactError
from model.images import normalise
from model.training import data

MIN_ACCURACY = 0.95
DRIFT_REFERENCE_SIZE = 300
N_EXAMPLES = 20
SHIFT_SEED = 12345


@dataclass(frozen=True)
class VersionSpec:
    """One default model: its architecture and its seed relative to ``--seed``."""

    architecture: str
    seed_offset: int


VERSIONS = {
    "v1": VersionSpec("resnet18", 0),  # the main model
    "v2": VersionSpec("resnet18", 1),  # the canary: same network, another seed
}


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and augmentation settings (AdamW with a one-cycle schedule)."""

    epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    max_rotation: float = 10.0  # degrees, augmentation
    max_shift: float = 2.0  # pixels, augmentation


def _augment(x: Any, cfg: TrainConfig, gen: Any) -> Any:
    """Small random rotations and shifts of float (N, 1, S, S) images in [0, 1]."""
    import torch
    import torch.nn.functional as F

    n, size = x.shape[0], x.shape[-1]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * cfg.max_rotation * torch.pi / 180
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * cfg.max_shift * 2 / size
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def model_inputs(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Canonical uint8 images (N, 32, 32) -> normalised float32 (N, 3, 32, 32)."""
    return normalise(data.to_unit(images), mean, std, size=data.IMAGE_SIZE)


def evaluate(model: Any, inputs: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> float:
    """Accuracy of ``model`` (eval mode) on normalised inputs."""
    import torch

    model.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(inputs), batch_size):
            logits = model(torch.from_numpy(inputs[i : i + batch_size]))
            correct += int((logits.argmax(1).numpy() == labels[i : i + batch_size]).sum())
    return correct / len(labels)


def train_classifier(
    architecture: str,
    split: data.Split,
    mean: Sequence[float],
    std: Sequence[float],
    seed: int,
    cfg: TrainConfig,
    desc: str = "",
) -> tuple[Any, float]:
    """Train one classifier; return it (eval mode) and its held-out accuracy."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_classifier(architecture, num_classes=len(data.CLASSES))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    x_train = torch.from_numpy(data.to_unit(split.train_images))
    y_train = torch.from_numpy(split.train_labels)
    steps = cfg.epochs * -(-len(x_train) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    with tqdm(total=steps, desc=desc, unit="batch", file=sys.stderr) as bar:
        for _ in range(cfg.epochs):
            model.train()
            order = torch.randperm(len(x_train), generator=gen)
            for i in range(0, len(order), cfg.batch_size):
                idx = order[i : i + cfg.batch_size]
                batch = _augment(x_train[idx], cfg, gen).numpy()
                x = torch.from_numpy(normalise(batch, mean, std, size=data.IMAGE_SIZE))
                loss = F.cross_entropy(model(x), y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    accuracy = evaluate(model, model_inputs(split.heldout_images, mean, std), split.heldout_labels)
    return model, accuracy


def write_version(
    out: Path, version: str, spec: VersionSpec, split: data.Split, seed: int, cfg: TrainConfig
) -> dict[str, Any]:
    """Train ``version`` and write its artifact directory atomically; return the metadata."""
    import torch

    mean, std = data.channel_stats(split.train_images)
    model, accuracy = train_classifier(spec.architecture, split, mean, std, seed, cfg, version)
    print(f"{version}: held-out accuracy {accuracy:.4f}", flush=True)
    if accuracy < MIN_ACCURACY:
        raise SystemExit(f"{version}: held-out accuracy {accuracy:.4f} < {MIN_ACCURACY}")
    tmp = out / f".{version}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(model.state_dict(), tmp / artifacts.WEIGHTS)
    torch.save(drift_encoder(DRIFT_ENCODING_DIM).state_dict(), tmp / artifacts.DRIFT_ENCODER)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(split.train_images), DRIFT_REFERENCE_SIZE, replace=False))
    reference = model_inputs(split.train_images[pick], mean, std).astype(np.float32)
    np.save(tmp / artifacts.DRIFT_REFERENCE, reference)
    meta = artifacts.write_metadata(
        tmp,
        {
            "version": version,
            "architecture": spec.architecture,
            "classes": list(data.CLASSES),
            "input_size": [3, data.IMAGE_SIZE, data.IMAGE_SIZE],
            "normalisation": {"mean": mean, "std": std},
            "pixel_scale": data.PIXEL_SCALE,
            "accuracy": accuracy,
            "seed": seed,
            "epochs": cfg.epochs,
            "drift": {
                "encoder": artifacts.DRIFT_ENCODER,
                "reference": artifacts.DRIFT_REFERENCE,
                "encoding_dim": DRIFT_ENCODING_DIM,
            },
        },
    )
    shutil.rmtree(out / version, ignore_errors=True)
    os.replace(tmp, out / version)
    return meta


def write_examples(out: Path, split: data.Split, n: int = N_EXAMPLES) -> None:
    """Write ``<out>/examples``: clean and shifted PNGs, index.json and the held-out npz files."""
    from PIL import Image

    shifted = data.shift_images(split.heldout_images, SHIFT_SEED)
    tmp = out / ".examples.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    index: dict[str, list[dict[str, Any]]] = {"clean": [], "shifted": []}
    for kind, images in (("clean", split.heldout_images), ("shifted", shifted)):
        (tmp / kind).mkdir(parents=True)
        for i in range(min(n, len(images))):
            label = int(split.heldout_labels[i])
            name = f"{kind}/{i}-{label}.png"
            Image.fromarray(images[i], mode="L").save(tmp / name)
            index[kind].append({"file": name, "label": label})
    (tmp / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    np.savez(tmp / "heldout.npz", images=split.heldout_images, labels=split.heldout_labels)
    np.savez(tmp / "shifted.npz", images=shifted, labels=split.heldout_labels)
    shutil.rmtree(out / "examples", ignore_errors=True)
    os.replace(tmp, out / "examples")


def is_current(directory: Path) -> bool:
    """Whether ``directory`` holds verified artifacts."""
    try:
        artifacts.verify_artifacts(directory)
    except ArtifactError:
        return False
    return True


def _examples_current(directory: Path) -> bool:
    names = ("index.json", "heldout.npz", "shifted.npz")
    return all((directory / name).is_file() for name in names)


def configure_torch() -> int:
    """Deterministic algorithms, one torch thread per available core; return the count."""
    import torch

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, threads or 1))
    torch.use_deterministic_algorithms(True)
    return torch.get_num_threads()


def train(
    out: Path, versions: Sequence[str], seed: int, cfg: TrainConfig, force: bool = False
) -> dict[str, dict[str, Any]]:
    """Train and write every version not already current, and the examples; return metadata."""
    unknown = [v for v in versions if v not in VERSIONS]
    if unknown:
        raise SystemExit(f"unknown versions {unknown}; known: {', '.join(VERSIONS)}")
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    with open(out / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent runs (test sessions) train once
        split = data.load_split()
        for version in versions:
            if not force and is_current(out / version):
                print(f"{version}: artifacts verify, skipped (use --force to retrain)")
                os.utime(out / version / artifacts.METADATA)  # up to date for make
                results[version] = artifacts.read_metadata(out / version)
                continue
            spec = VERSIONS[version]
            results[version] = write_version(
                out, version, spec, split, seed + spec.seed_offset, cfg
            )
        if force or not _examples_current(out / "examples"):
            write_examples(out, split)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.training", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=Path("artifacts"), help="artifacts directory")
    parser.add_argument("--versions", default=",".join(VERSIONS), help="comma-separated versions")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="training epochs")
    parser.add_argument("--seed", type=int, default=1, help="seed of v1 (v2 uses seed + 1)")
    parser.add_argument("--force", action="store_true", help="retrain even if artifacts verify")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    threads = configure_torch()
    print(f"training {', '.join(versions)} on {threads} torch threads", flush=True)
    start = time.perf_counter()
    results = train(args.out, versions, args.seed, TrainConfig(epochs=args.epochs), args.force)
    summary = ", ".join(f"{v} accuracy {m['accuracy']:.4f}" for v, m in results.items())
    print(f"done in {time.perf_counter() - start:.1f}s: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
