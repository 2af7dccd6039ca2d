"""Draw the frontal-to-profile dev pairs of CFP people 401-450, whom no training selection uses.

600 pairs in 10 folds of 30 same + 30 different (the layout `eval pairs` expects): in each fold 5 people; a same
pair is one of a person's 10 frontal photos with one of their 4 profiles, a different pair a frontal photo of one
of the fold's people with a profile of another person of the 50. Seeded: the committed list is what it writes.

    python scripts/cfp_fp_pairs.py ../shared/data/train configs/eval/cfp401_450_fp_pairs.csv
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

import numpy as np

FIRST, LAST = 401, 450
FOLDS, PEOPLE_PER_FOLD, PAIRS_PER_CLASS = 10, 5, 30


def dev_people(train: Path) -> list[Path]:
    folders = sorted(p for p in train.glob("cfp_*") if FIRST <= int(p.name.split("_")[1]) <= LAST)
    if len(folders) != LAST - FIRST + 1:
        raise SystemExit(f"cfp_fp_pairs: expected {LAST - FIRST + 1} CFP folders {FIRST}-{LAST} in '{train}'")
    return folders


def draw(people: list[Path], seed: int = 0) -> list[tuple[Path, Path, int]]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(people))
    rows = []
    for fold in range(FOLDS):
        members = [people[i] for i in order[fold * PEOPLE_PER_FOLD:(fold + 1) * PEOPLE_PER_FOLD]]
        for k in range(PAIRS_PER_CLASS):
            person = members[k % PEOPLE_PER_FOLD]
            rows.append((_pick(person, "frontal", rng), _pick(person, "profile", rng), 1))
        for k in range(PAIRS_PER_CLASS):
            person = members[k % PEOPLE_PER_FOLD]
            other = people[rng.choice([i for i in range(len(people)) if people[i] != person])]
            rows.append((_pick(person, "frontal", rng), _pick(other, "profile", rng), 0))
    return rows


def _pick(person: Path, pose: str, rng: np.random.Generator) -> Path:
    return rng.choice(sorted(person.glob(f"{pose}_*.jpg")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("train", type=Path, help="the shared train/ folder")
    parser.add_argument("out", type=Path, help="CSV to write (paths relative to its folder)")
    args = parser.parse_args()
    rows = draw(dev_people(args.train))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("path1", "path2", "same"))
        writer.writerows((Path(os.path.relpath(a, args.out.parent)).as_posix(),
                          Path(os.path.relpath(b, args.out.parent)).as_posix(), same) for a, b, same in rows)
    print(f"{args.out}: {len(rows)} pairs of {LAST - FIRST + 1} CFP people")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
