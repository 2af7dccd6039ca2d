"""Hold one LFW View-2 fold out of training, to score a model trained on the rest of LFW (the all-data recipe).

LFW's ten View-2 folds share no person, so a model trained on every LFW person except fold K's can still be scored
on fold K's 600 pairs. OUT becomes an LFW-layout folder of people that training never saw:
  people.txt - the people named in fold K's pairs (`sphereapp-train merge --exclude`);
  pairs.txt  - fold K's 600 pairs re-cut into ten folds of 30 same + 30 different pairs (threshold chosen on 540
               pairs, accuracy on the other 60);
  <person>/  - links to the LFW folders of fold K's people and of every LFW person with one image (strangers:
               `merge --min-images 2` never trains on them).
so that `sphereapp-train eval lfw --lfw OUT`, `eval openset --lfw OUT` (gallery drawn from fold K's people with 2+
images) and fit's `--set eval.lfw_dir=OUT` score on unseen people only.

    python scripts/lfw_holdout.py ../shared/data/lfw .data/holdout10 --fold 10
"""

from __future__ import annotations

import argparse
from pathlib import Path

IMAGE_SUFFIX = ".jpg"
OUT_FOLDS = 10


def fold_lines(pairs_txt: Path, fold: int) -> tuple[list[str], int]:
    """The pair lines of fold `fold` (1-based) of a View-2 pairs.txt, and its pairs per class."""
    lines = pairs_txt.read_text(encoding="utf-8").splitlines()
    folds, per_class = (int(v) for v in lines[0].split())
    if not 1 <= fold <= folds:
        raise SystemExit(f"lfw_holdout: --fold must be 1..{folds}")
    size = 2 * per_class
    return lines[1 + (fold - 1) * size:1 + fold * size], per_class


def people_of(lines: list[str]) -> list[str]:
    """Sorted names in pair lines ('name i j' or 'name1 i name2 j')."""
    return sorted({field for line in lines for field in line.split()[::2] if not field.isdigit()})


def recut(lines: list[str], per_class: int) -> list[str]:
    """One fold's pairs (per_class same, then per_class different) as OUT_FOLDS folds, each same-then-different."""
    same, different = lines[:per_class], lines[per_class:]
    step = per_class // OUT_FOLDS
    out = [f"{OUT_FOLDS}\t{step}"]
    for k in range(OUT_FOLDS):
        out += same[k * step:(k + 1) * step] + different[k * step:(k + 1) * step]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lfw", type=Path, help="LFW folder with pairs.txt")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--fold", type=int, default=10, help="View-2 fold to hold out, 1..10 (default: 10)")
    args = parser.parse_args()
    lines, per_class = fold_lines(args.lfw / "pairs.txt", args.fold)
    people = people_of(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "people.txt").write_text("\n".join(people) + "\n", encoding="utf-8")
    (args.out / "pairs.txt").write_text("\n".join(recut(lines, per_class)) + "\n", encoding="utf-8")
    held_out, linked = set(people), 0
    for folder in sorted(p for p in args.lfw.iterdir() if p.is_dir()):
        if folder.name in held_out or len(list(folder.glob(f"*{IMAGE_SUFFIX}"))) == 1:
            link = args.out / folder.name
            if not link.exists():
                link.symlink_to(folder.resolve(), target_is_directory=True)
            linked += 1
    print(f"fold {args.fold}: {len(people)} people, {len(lines)} pairs; {linked} person folders linked in {args.out}")


if __name__ == "__main__":
    main()
