"""A classifier as judge: which classes of a labelled data set does the generator still make?

Place in the data flow: the user's classifier file (`livegan train --judge FILE`) + the EMA
generator's samples (each metrics tick) -> **judge** -> metrics.jsonl (`classes`,
`confident`, `top_class`) and the progress line.

liveGAN never downloads a classifier. The file is the user's:
- a native judge (`.safetensors`): the weights of `SmallClassifier` below with its constructor
  arguments and class names in the metadata; loading it runs no code from the file. Make one
  from a folder with one sub-folder of images per class:
  `python -m liveGAN.train.judge LABELLED_DIR --out judge.safetensors --res 32`;
- or a TorchScript file of the user's own classifier (`torch.jit.save`), mapping images
  [N, 3, res, res] in [-1, 1] to logits [N, classes]. TorchScript is a program: use only files
  you made or trust.

Class coverage counts the samples the judge classifies confidently (softmax >= CONFIDENCE):
how many classes they reach, what fraction of samples is confident, and the share of the most
frequent class among them (a collapsed generator makes one class).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

CONFIDENCE = 0.9
METADATA_KEY = "livegan_judge"


class JudgeError(Exception):
    """A judge file that cannot be used; the message names the file and why."""


class SmallClassifier(nn.Module):
    """Three conv stages and a linear head: enough for digits, glyphs or simple categories."""

    def __init__(self, num_classes: int, res: int = 32, width: int = 32,
                 class_names: list[str] | None = None) -> None:
        super().__init__()
        self.res, self.num_classes = int(res), int(num_classes)
        self.class_names = list(class_names or [str(i) for i in range(num_classes)])
        self.init_kwargs = dict(num_classes=self.num_classes, res=self.res, width=int(width),
                                class_names=self.class_names)
        w = int(width)
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
        self.head = nn.Linear(4 * w * 4, self.num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        if x.shape[-1] != self.res:
            x = F.interpolate(x, size=(self.res, self.res), mode="bilinear",
                              align_corners=False, antialias=x.shape[-1] > self.res)
        return self.head(self.features(x).flatten(1))


def save_judge(path, model: SmallClassifier) -> Path:
    """Write a SmallClassifier to `path` (.safetensors, atomically)."""
    from safetensors.torch import save_file

    from liveGAN.files import atomic_path

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(model.init_kwargs)})
    return path


def load_judge(path) -> nn.Module:
    """The classifier in `path`: a native judge (.safetensors) or a TorchScript file."""
    path = Path(path)
    if not path.is_file():
        raise JudgeError(f"{path}: no such classifier file")
    head = path.read_bytes()[:16]
    if len(head) >= 9 and head[8:9] == b"{":
        from safetensors import safe_open
        from safetensors.torch import load_file

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = (f.metadata() or {}).get(METADATA_KEY)
            state = load_file(str(path))
        except Exception as err:
            raise JudgeError(f"{path}: unreadable .safetensors ({err})") from None
        if meta is None:
            raise JudgeError(f"{path}: no '{METADATA_KEY}' metadata: not a judge made by "
                             f"`python -m liveGAN.train.judge`")
        try:
            model = SmallClassifier(**json.loads(meta))
            model.load_state_dict(state)
        except (TypeError, ValueError, RuntimeError) as err:
            raise JudgeError(f"{path}: metadata or weights do not build the judge ({err})") \
                from None
        return model.eval().requires_grad_(False)
    if head[:4] != b"PK\x03\x04":
        raise JudgeError(f"{path}: neither a .safetensors judge nor a TorchScript file")
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise JudgeError(f"{path}: not a TorchScript classifier ({first})") from None


class ClassCoverage:
    """Class statistics of generated images under a judge."""

    def __init__(self, judge: nn.Module, confidence: float = CONFIDENCE) -> None:
        self.judge, self.confidence = judge, confidence
        self.num_classes: int | None = getattr(judge, "num_classes", None)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor, batch: int = 128) -> torch.Tensor:
        logits = torch.cat([self.judge(images[i: i + batch].float())
                            for i in range(0, len(images), batch)])
        if logits.dim() != 2:
            raise JudgeError(f"the judge returned shape {tuple(logits.shape)}, expected "
                             f"[N, classes]")
        self.num_classes = int(logits.shape[1])
        return logits.float().softmax(dim=1)

    def measure(self, images: torch.Tensor) -> dict[str, float]:
        """{'classes', 'confident', 'top_class'}: classes reached by confident samples, the
        confident fraction, and the largest class's share of the confident samples."""
        probs = self.probabilities(images)
        best, label = probs.max(dim=1)
        sure = label[best >= self.confidence]
        counts = torch.bincount(sure, minlength=probs.shape[1]).float()
        return {"classes": int((counts > 0).sum()),
                "confident": float(len(sure) / max(len(images), 1)),
                "top_class": float(counts.max() / counts.sum()) if len(sure) else 0.0}


# ---- making a judge from a labelled folder ----------------------------------------------------

def train_classifier(images: np.ndarray, labels: np.ndarray, class_names: list[str],
                     res: int, epochs: int = 30, seed: int = 0, log=print) -> SmallClassifier:
    """A SmallClassifier fitted on uint8 images [N, res, res, 3] with integer labels.

    Trained to judge generated images fairly: with light augmentation (shifts, contrast,
    brightness, faint noise: a generator's images are never pixel-aligned copies at the data's
    exact grade) and with outliers that must get no confident class (`_with_outliers`). A
    tenth is held out to report the accuracy and the share of real images it is sure of
    (`held_out_accuracy`, `held_out_confident`); the learning rate falls to zero over the
    epochs (cosine), so the last epoch is not a random point of a noisy descent.
    """
    torch.manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
    y = torch.from_numpy(np.asarray(labels)).long()
    order = torch.randperm(len(x))
    held = order[: max(1, len(x) // 10)]
    train = order[len(held):]
    model = SmallClassifier(len(class_names), res, class_names=class_names)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    for epoch in range(epochs):
        model.train()
        for i in range(0, len(train), 64):
            idx = train[i: i + 64]
            batch, target = _with_outliers(x[idx], y[idx], len(class_names))
            loss = F.cross_entropy(model(_judge_augment(batch)), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
        schedule.step()
        train = train[torch.randperm(len(train))]
        model.eval()
        with torch.no_grad():
            probs = model(x[held]).softmax(dim=1)
        best, label = probs.max(dim=1)
        accuracy = float((label == y[held]).float().mean())
        confident = float((best >= CONFIDENCE).float().mean())
        log(f"epoch {epoch + 1}/{epochs}: held-out accuracy {accuracy:.3f}, "
            f"confident {confident:.3f}")
    model.held_out_accuracy, model.held_out_confident = accuracy, confident
    return model.eval().requires_grad_(False)


def _with_outliers(x: torch.Tensor, y: torch.Tensor, classes: int):
    """The batch plus a quarter as many images that are no class (soft targets [N, classes]):
    real images with their pixels shuffled (the data's colours, no shape), which the judge must
    call uniform, and blends of two images, which it must call as mixed as they are. Trained
    on the classes alone, the digits judge was sure of every Gaussian-noise image and of half
    of a generator's first speckle; with these, confidence means a recognisable member."""
    n = x.shape[0]
    target = F.one_hot(y, classes).float()
    k = max(1, n // 8)
    pixels = x[:k].flatten(2)
    shuffled = pixels[:, :, torch.randperm(pixels.shape[-1])].view_as(x[:k])
    a, b = torch.randint(0, n, (2, k))
    mix = torch.empty(k, 1, 1, 1).uniform_(0.3, 0.7)
    blended = mix * x[a] + (1 - mix) * x[b]
    blended_target = mix.view(k, 1) * target[a] + (1 - mix.view(k, 1)) * target[b]
    uniform = torch.full((k, classes), 1.0 / classes)
    return (torch.cat([x, shuffled, blended]),
            torch.cat([target, uniform, blended_target]))


def _judge_augment(x: torch.Tensor) -> torch.Tensor:
    """Each image shifted by up to 1/8 of its side, its contrast and brightness varied a
    little and faint noise added: what a generator's images differ by from the data without
    being another class, so the judge's confidence measures the class, not the grade."""
    n, _, h, w = x.shape
    shift = max(1, h // 8)
    padded = F.pad(x, [shift] * 4, mode="replicate")
    at = torch.randint(0, 2 * shift + 1, (n, 2)).tolist()
    x = torch.stack([padded[i, :, y: y + h, x0: x0 + w] for i, (y, x0) in enumerate(at)])
    contrast = torch.empty(n, 1, 1, 1).uniform_(0.6, 1.1)
    brightness = torch.empty(n, 1, 1, 1).uniform_(-0.15, 0.15)
    noise = torch.rand(n, 1, 1, 1) * 0.1 * torch.randn_like(x)
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * contrast + mean + brightness + noise


def main(argv=None) -> int:
    """python -m liveGAN.train.judge LABELLED_DIR --out judge.safetensors [--res R]."""
    parser = argparse.ArgumentParser(
        prog="python -m liveGAN.train.judge",
        description="train a small classifier (a judge for `livegan train --judge`) on a "
                    "folder with one sub-folder of images per class",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("folder", help="folder of class sub-folders of images")
    parser.add_argument("--out", required=True, help="judge file to write (.safetensors)")
    parser.add_argument("--res", type=int, default=32, help="image size the judge sees")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the images")
    args = parser.parse_args(argv)
    from liveGAN.train.data import DataError, decode_image, find_images, fit_square

    root = Path(args.folder)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if len(classes) < 2:
        print(f"error: {root}: needs one sub-folder of images per class (2 or more)",
              file=sys.stderr)
        return 1
    images, labels = [], []
    for label, name in enumerate(classes):
        try:
            files = find_images(root / name)
        except DataError:
            files = []
        for path in files:
            try:
                images.append(fit_square(decode_image(path), args.res))
                labels.append(label)
            except ValueError:
                print(f"skipped unreadable {path}", file=sys.stderr)
    if not images:
        print(f"error: {root}: no readable images in its class folders", file=sys.stderr)
        return 1
    model = train_classifier(np.stack(images), np.array(labels), classes, args.res,
                             epochs=args.epochs, log=lambda m: print(m, file=sys.stderr))
    save_judge(args.out, model)
    print(f"wrote {args.out}: {len(classes)} classes, {len(images)} images, held-out accuracy "
          f"{model.held_out_accuracy:.3f}, confident on {model.held_out_confident:.3f} of them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
