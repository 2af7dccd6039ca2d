"""How closely a fit checkpoint's student copies its bank teacher, on training faces and on held-out people.

For 96 labelled faces of the selection and 96 bank faces of excluded LFW people, views 0 (as prepared) and 2
(augmented): the cosine between the student's embedding mapped through its projector and the bank teacher's
target of that view, and the MSE between their in-batch cosine matrices. A diagnostic for MODEL.md.

Usage: python scripts/student_gap.py CHECKPOINT [--bank .data/bank] [--selection .data/sel_shipped.npz]
       [--excluded .data/exclude_shipped.txt]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sphereapp.core.vision.align import center_crop_112x112  # noqa: E402
from sphereapp.core.vision.models import build_model, normalize_input  # noqa: E402
from training.bank import Bank  # noqa: E402
from training.checkpoint import load_checkpoint  # noqa: E402

FACES, VIEWS = 96, (0, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--bank", default=".data/bank")
    parser.add_argument("--selection", type=Path, default=Path(".data/sel_shipped.npz"))
    parser.add_argument("--excluded", type=Path, default=Path(".data/exclude_shipped.txt"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.checkpoint)
    bank = Bank.open(args.bank)
    model = build_model(checkpoint["config"]["model"]["backbone"],
                        embedding_size=checkpoint["config"]["model"]["embedding_size"])
    model.load_state_dict(checkpoint["model"])
    model.eval()
    projector = checkpoint["projector"]
    weight = (projector["weight"] if "weight" in projector else projector[f"{bank.teacher}.weight"]).float()
    selection = np.load(args.selection)
    excluded = set(args.excluded.read_text(encoding="utf-8").split())
    groups = {"train": selection["rows"][selection["labels"] >= 0],
              "held-out lfw": [i for i, row in enumerate(bank.rows) if row.source == "lfw" and row.identity in excluded]}
    rng = np.random.default_rng(0)
    for name, rows in groups.items():
        rows = np.sort(rng.choice(rows, FACES, replace=False))
        for view in VIEWS:
            crops = torch.from_numpy(np.stack([center_crop_112x112(np.asarray(bank.views[r, view])) for r in rows]))
            with torch.no_grad():
                features = model(normalize_input(crops))
            projected = F.normalize(features @ weight.T, dim=1).numpy()
            targets = np.asarray(bank.targets[rows, view])
            student = F.normalize(features, dim=1).numpy()
            relational = np.mean((student @ student.T - targets @ targets.T) ** 2)
            print(f"{name:>13} view {view}: cos(projected, teacher) {np.mean(np.sum(projected * targets, 1)):.3f}"
                  f"  relational mse {relational:.4f}")


if __name__ == "__main__":
    main()
