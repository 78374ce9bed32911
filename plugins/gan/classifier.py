"""The small MNIST classifier that `evaluate` scores digits with, and how its shipped checkpoint is made.

Its 128 penultimate activations are the feature space of our FID (Inception features mean nothing
for 28x28 digits); its softmax gives the share of confidently labelled digits and class coverage.
The checkpoint `classifier.safetensors` is trained on all but the last `holdout` digits of the data
and records its accuracy on those held-out digits in its metadata. Rebuild it (and then the sha256
digest shipped beside it, which loading checks) with:

    OMP_NUM_THREADS=1 python -m aigc.plugins.gan.classifier --data ../shared/data/mnist --holdout 2000
    python scripts/bundled_digests.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc.core.plugin_api import UsageError, load_tensors, verify_shipped

CHECKPOINT = Path(__file__).with_name("classifier.safetensors")
FEATURES = 128
MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics on a 0..1 scale


class Classifier(nn.Module):
    """uint8-range digits (B, 1, 28, 28) -> 10 logits; `features` gives the (B, 128) layer before them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, FEATURES)
        self.dropout = nn.Dropout(0.3)
        self.out = nn.Linear(FEATURES, 10)

    def features(self, x: Tensor) -> Tensor:
        x = (x / 255.0 - MEAN) / STD
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 32, 14, 14)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)  # (B, 64, 7, 7)
        return F.relu(self.fc(h.flatten(1)))  # (B, 128)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.dropout(self.features(x)))  # (B, 10)


def load_classifier(device: str, path: Path = CHECKPOINT) -> tuple[Classifier, dict[str, str]]:
    """The shipped classifier in eval mode, and its metadata (held-out accuracy, split)."""
    if not path.is_file():
        raise UsageError(f"{path}: the gan plugin's classifier checkpoint is missing; reinstall aigc")
    verify_shipped(path, f"classifier {path} of plugin 'gan'", __name__)
    tensors, metadata = load_tensors(path)
    model = Classifier()
    model.load_state_dict(tensors)
    return model.to(device).eval(), metadata


@torch.inference_mode()
def score(model: Classifier, images: np.ndarray, device: str, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, 128) float64 and class probabilities (N, 10) of uint8 digits (N, 28, 28)."""
    feats, probs = [], []
    for start in range(0, len(images), batch):
        x = torch.from_numpy(images[start : start + batch]).to(device).unsqueeze(1).float()
        h = model.features(x)
        feats.append(h.double().cpu().numpy())
        probs.append(F.softmax(model.out(h), dim=1).double().cpu().numpy())
    return np.concatenate(feats), np.concatenate(probs)


def shifted(x: Tensor, generator: torch.Generator, pixels: int = 2) -> Tensor:
    """Each digit moved by up to +-`pixels` in x and y: the augmentation that makes 6,000 digits enough."""
    padded = F.pad(x, (pixels,) * 4)
    dy, dx = torch.randint(0, 2 * pixels + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy : dy + 28, dx : dx + 28]


def train_classifier(
    images: np.ndarray, labels: np.ndarray, *, epochs: int = 12, batch: int = 64, seed: int = 0
) -> Classifier:
    torch.manual_seed(seed)
    draw = torch.Generator().manual_seed(seed)
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=epochs * (len(images) // batch))
    x = torch.from_numpy(images).unsqueeze(1).float()
    y = torch.from_numpy(labels.astype(np.int64))
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=draw)
        for i in range(len(x) // batch):
            pick = order[i * batch : (i + 1) * batch]
            loss = F.cross_entropy(model(shifted(x[pick], draw)), y[pick])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def accuracy(model: Classifier, images: np.ndarray, labels: np.ndarray) -> float:
    _, probs = score(model, images, "cpu")
    return float((probs.argmax(1) == labels).mean())


def main() -> None:
    from safetensors.torch import save_file

    from aigc.plugins.datasets.mnist import load_mnist, split

    parser = argparse.ArgumentParser(description="train the gan plugin's evaluation classifier")
    parser.add_argument("--data", default=None, help="MNIST folder (default: the cache)")
    parser.add_argument("--holdout", type=int, default=2000, help="last N digits held out to measure accuracy")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    args = parser.parse_args()

    train, held = split(load_mnist(args.data), args.holdout)
    assert train.labels is not None and held.labels is not None, "the classifier needs labelled digits"
    started = time.perf_counter()
    model = train_classifier(train.images, train.labels, epochs=args.epochs, seed=args.seed)
    held_accuracy = accuracy(model, held.images, held.labels)
    metadata = {
        "heldout_accuracy": f"{held_accuracy:.4f}",
        "train_accuracy": f"{accuracy(model, train.images, train.labels):.4f}",
        "split": json.dumps({"train": f"first {len(train)} digits", "heldout": f"last {len(held)} digits"}),
        "data": str(args.data or "the MNIST cache"),
        "epochs": str(args.epochs),
        "seed": str(args.seed),
    }
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(args.out), metadata=metadata)
    print(json.dumps(metadata | {"seconds": round(time.perf_counter() - started, 1), "out": str(args.out)}))


if __name__ == "__main__":
    main()
