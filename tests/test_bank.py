"""Distillation bank: wide crops, cached views + targets, screening, selection, batches and `fit` with a bank."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sphereapp.core.errors import InputError
from sphereapp.core.vision.align import TEMPLATE_112x96, align_face
from sphereapp.core.vision.modelfile import load_embedder
from training import bank as bank_module
from training import consistent
from training.augment import BatchAugmenter
from training.bank import Bank, build_bank
from training.bank_data import BankFaces, BankPlan
from training.bank_select import Selection, screen, select
from training.bank_teachers import add_teacher
from training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from training.cli import main
from training.config import AugmentConfig, load_config
from training.consistent import ConsistentTeaching, blend_some
from training import fit as fit_module
from training.fit import fit
from training.prepare import PrepareOptions, prepare

from helpers import TINY

PEOPLE, IMAGES_EACH, STRANGERS = 4, 6, 5

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ColourTeacher:
    """A stand-in teacher: the crop's mean colour and its left/right balance, mapped to 8 dimensions."""

    name, licence, dim = "colour", "test only", 8

    def __init__(self, fail_after: int | None = None):
        self.calls, self.fail_after = 0, fail_after
        self.mixing = np.random.default_rng(0).normal(size=(6, self.dim)).astype(np.float32)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        x = crops.astype(np.float32) / 255
        half = x.shape[2] // 2
        features = np.concatenate([x.mean(axis=(1, 2)), x[:, :, :half].mean(axis=(1, 2)) - x[:, :, half:].mean(axis=(1, 2))], 1)
        out = features @ self.mixing
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class BalanceTeacher(ColourTeacher):
    """A second stand-in teacher, of another size."""

    name, licence, dim = "balance", "test only too", 6

    def __init__(self, fail_after: int | None = None):
        super().__init__(fail_after)
        self.mixing = np.random.default_rng(1).normal(size=(6, self.dim)).astype(np.float32)


def _images(folder: Path, colour: np.ndarray, count: int, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True)
    for index in range(count):
        image = np.clip(colour + rng.normal(0, 40, (112, 112, 3)), 0, 255).astype(np.uint8)
        image[:, :40] //= 2  # left and right differ, so a mirrored view is another image
        Image.fromarray(image).save(folder / f"{index}.png")


@pytest.fixture(scope="module")
def wide_sources(tmp_path_factory) -> dict[str, Path]:
    """'people': 4 people x 6 aligned 112x112 crops; 'strangers': 5 one-image people, both prepared --wide."""
    root = tmp_path_factory.mktemp("wide")
    rng = np.random.default_rng(0)
    for person in range(PEOPLE):
        _images(root / "people_src" / f"person_{person}", rng.integers(0, 256, (1, 1, 3)), IMAGES_EACH, rng)
    for stranger in range(STRANGERS):
        _images(root / "strangers_src" / f"stranger_{stranger}", rng.integers(0, 256, (1, 1, 3)), 1, rng)
    options = PrepareOptions(aligned_112x112=True, crop_width=112)
    prepare(root / "people_src", root / "people", options)
    prepare(root / "strangers_src", root / "strangers", options)
    return {"people": root / "people", "strangers": root / "strangers"}


@pytest.fixture(scope="module")
def built_bank(wide_sources, tmp_path_factory) -> Path:
    return build_bank(tmp_path_factory.mktemp("bank") / "bank", wide_sources, ColourTeacher(), views=3)


def test_wide_alignment_is_the_insightface_crop_of_the_same_face():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    landmarks = TEMPLATE_112x96 * 1.3 + np.float32([30, 20])
    narrow, wide = align_face(image, landmarks), align_face(image, landmarks, width=112)
    assert wide.shape == (112, 112, 3)
    assert np.abs(wide[:, 8:104].astype(int) - narrow).max() <= 1
    with pytest.raises(ValueError):
        align_face(image, landmarks, width=100)


def test_bank_holds_each_view_and_the_teacher_embedding_of_that_view(built_bank, wide_sources):
    bank = Bank.open(built_bank)
    crops = np.load(wide_sources["people"] / "crops.npy")
    assert bank.views.shape == (PEOPLE * IMAGES_EACH + STRANGERS, 3, 112, 112, 3)
    assert [r.source for r in bank.rows].count("strangers") == STRANGERS
    np.testing.assert_array_equal(bank.views[0, 0], crops[0])
    np.testing.assert_array_equal(bank.views[0, 1], crops[0][:, ::-1])
    assert not np.array_equal(bank.views[0, 2], crops[0])  # augmented
    flat = np.asarray(bank.views).reshape(-1, 112, 112, 3)
    np.testing.assert_allclose(np.asarray(bank.targets).reshape(len(flat), -1), ColourTeacher().embed(flat),
                               atol=1e-6)


def test_an_interrupted_build_continues_to_the_same_bank(built_bank, wide_sources, tmp_path, monkeypatch):
    monkeypatch.setattr(bank_module, "CHUNK", 8)
    out = tmp_path / "bank"
    with pytest.raises(KeyboardInterrupt):
        build_bank(out, wide_sources, ColourTeacher(fail_after=2), views=3)
    assert not (out / bank_module.BANK_NAME).exists()
    teacher = ColourTeacher()
    build_bank(out, wide_sources, teacher, views=3)
    assert teacher.calls == 2  # 29 rows in chunks of 8: 2 of 4 were done before the interruption
    whole = build_bank(tmp_path / "whole", wide_sources, ColourTeacher(), views=3)
    np.testing.assert_array_equal(Bank.open(out).views, Bank.open(whole).views)
    np.testing.assert_array_equal(Bank.open(out).targets, Bank.open(whole).targets)
    with pytest.raises(InputError, match="another bank"):
        build_bank(out, wide_sources, ColourTeacher(), views=2)


def test_a_narrow_prepared_folder_is_refused(tmp_path, wide_sources):
    src = tmp_path / "src" / "p"
    _images(src, np.zeros((1, 1, 3)), 2, np.random.default_rng(0))
    prepare(tmp_path / "src", tmp_path / "narrow", PrepareOptions(aligned_112x112=True))
    with pytest.raises(InputError, match="--wide"):
        build_bank(tmp_path / "bank", {"narrow": tmp_path / "narrow"}, ColourTeacher())


def test_select_classes_distillation_only_faces_and_exclusions(built_bank, tmp_path):
    rows = Bank.open(built_bank).rows
    selection, about = select(rows, ["people"], ["strangers"])
    assert selection.num_classes == PEOPLE and about["distillation_only_faces"] == STRANGERS
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("Person_1\n")
    same = tmp_path / "same.tsv"
    same.write_text("person_2\tperson_3\n")  # one person under two names
    selection, about = select(rows, ["people"], [], exclude=exclude, same_person=same)
    assert selection.num_classes == 2 and about["labelled_faces"] == 3 * IMAGES_EACH
    assert np.bincount(selection.labels).tolist() == [IMAGES_EACH, 2 * IMAGES_EACH]
    # people below --min-images: distillation-only, or left out with --drop-singletons
    selection, _ = select(rows, ["people", "strangers"], [])
    assert np.sum(selection.labels < 0) == STRANGERS
    selection, _ = select(rows, ["people", "strangers"], [], drop_singletons=["strangers"])
    assert len(selection.rows) == PEOPLE * IMAGES_EACH
    with pytest.raises(InputError, match="no source named"):
        select(rows, ["nobody"], [])


def test_screen_drops_a_candidate_that_is_a_held_out_person(built_bank, tmp_path):
    bank = Bank.open(built_bank)
    targets = np.array(bank.targets)
    copy = next(i for i, r in enumerate(bank.rows) if r.source == "strangers")
    targets[copy] = targets[0]  # stranger_0 "is" person_0
    doctored = Bank(bank.root, bank.views, targets, bank.rows, bank.teacher, bank.licence)
    out = tmp_path / "screened.tsv"
    result = screen(doctored, ["strangers"], "people", None, far=0.01, out=out)
    with out.open(newline="") as handle:
        listed = list(csv.DictReader(handle, delimiter="\t"))
    assert {"stranger_0"} <= {r["identity"] for r in listed} and result["dropped_faces"] == len(listed)
    assert all(r["nearest"] == "person_0" for r in listed if r["identity"] == "stranger_0")
    selection, about = select(bank.rows, ["people"], ["strangers"], drop=[out])
    assert about["screened_rows"] >= 1 and copy not in selection.rows


def test_bank_plan_mixes_balanced_people_and_unlabelled_faces():
    labels = np.array([0] * 6 + [1] * 6 + [2] * 6 + [-1] * 10)
    plan = BankPlan(labels, views=3, batch_size=10, unlabelled=2, seed=0, samples_per_class=4)
    for b in range(10):
        items = plan.global_batch(b)
        positions, views = np.divmod(items, 3)
        assert np.sum(labels[positions] < 0) == 2 and set(views) <= {0, 1, 2}
        counts = np.bincount(labels[positions][labels[positions] >= 0])
        assert sorted(counts[counts > 0]) == [4, 4]
    resumed = BankPlan(labels, views=3, batch_size=10, unlabelled=2, seed=0, samples_per_class=4, start_batch=4)
    assert next(iter(resumed)) == plan.global_batch(4).tolist()


def test_a_source_share_draws_that_share_of_the_people_from_that_source():
    labels = np.array([c for c in range(40) for _ in range(4)] + [-1] * 8)
    sources = np.array(["cfp"] * 16 + ["celeba"] * (len(labels) - 16))  # 4 of 40 people come from "cfp"
    plain = BankPlan(labels, views=2, batch_size=10, unlabelled=2, seed=0, sources=sources, samples_per_class=4)
    shared = BankPlan(labels, views=2, batch_size=10, unlabelled=2, seed=0, sources=sources, samples_per_class=4,
                      source_share={"cfp": 0.5})

    def cfp_share(plan: BankPlan) -> float:
        people = [set(labels[plan.global_batch(b) // 2]) - {-1} for b in range(400)]
        return np.mean([len([p for p in batch if p < 4]) / len(batch) for batch in people])

    assert abs(cfp_share(plain) - 0.1) < 0.05 and abs(cfp_share(shared) - 0.5) < 0.07
    with pytest.raises(InputError, match="no labelled face"):
        BankPlan(labels, views=2, batch_size=10, unlabelled=2, seed=0, sources=sources, source_share={"x": 0.2})
    with pytest.raises(InputError, match="add up to at most 1"):
        BankPlan(labels, views=2, batch_size=10, unlabelled=2, seed=0, sources=sources,
                 source_share={"cfp": 0.7, "celeba": 0.6})


def test_bank_faces_give_the_student_view_and_its_target(built_bank, tmp_path):
    bank = Bank.open(built_bank)
    selection, _ = select(bank.rows, ["people"], ["strangers"])
    selection.save(tmp_path / "sel.npz", {})
    faces = BankFaces(built_bank, tmp_path / "sel.npz")
    image, label, target = faces[1 * 3 + 2]  # second face, view 2
    row = selection.rows[1]
    assert image.shape == (112, 96, 3) and label == selection.labels[1]
    np.testing.assert_array_equal(image.numpy(), bank.views[row, 2][:, 8:104])
    centre = np.asarray(bank.targets, np.float64).mean(axis=(0, 1))
    expected = bank.targets[row, 2] - centre
    np.testing.assert_allclose(target.numpy(), expected / np.linalg.norm(expected), rtol=1e-5)
    with pytest.raises(InputError, match="does not fit"):
        Selection.load(tmp_path / "sel.npz", bank_rows=3)


def _distill_overrides(bank: Path, selection: Path) -> list[str]:
    return [f"distill.bank={str(bank)!r}", f"distill.selection={str(selection)!r}", "distill.weight=5.0",
            "distill.relational_weight=1.0",
            "distill.unlabelled_per_batch=4", "data.batch_size=12", "data.balanced=true", "data.num_workers=0"]


def test_fit_with_a_bank_resumes_exactly_and_keeps_its_projector(built_bank, tmp_path, untrained_model_file):
    bank = Bank.open(built_bank)
    selection, _ = select(bank.rows, ["people"], ["strangers"])
    selection.save(tmp_path / "sel.npz", {})
    overrides = _distill_overrides(built_bank, tmp_path / "sel.npz") + [
        "model.backbone=sphereface4", "model.embedding_size=512", f"init={str(untrained_model_file)!r}"]
    config = load_config(TINY, overrides + ["iterations=4"])
    whole = fit(config, None, tmp_path / "whole")
    fit(config, None, tmp_path / "split", stop_at=2)
    checkpoint = load_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)
    assert checkpoint["projector"]["colour.weight"].shape == (ColourTeacher.dim, 512)
    resumed = fit(config, None, tmp_path / "split", resume=True)
    a, _ = load_embedder(whole.model_path)
    b, _ = load_embedder(resumed.model_path)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(x, y)
    _, info = load_embedder(whole.model_path)
    assert "embedding distillation from colour" in info.recipe and "started from" in info.recipe
    assert "distillation-only crops" in info.training_data and info.licence == "test only: distilled from colour"


def test_init_starts_from_the_given_weights(built_bank, tmp_path, untrained_model_file):
    bank = Bank.open(built_bank)
    selection, _ = select(bank.rows, ["people"], [])
    selection.save(tmp_path / "sel.npz", {})
    overrides = _distill_overrides(built_bank, tmp_path / "sel.npz") + [
        "model.backbone=sphereface4", "model.embedding_size=512", f"init={str(untrained_model_file)!r}",
        "distill.unlabelled_per_batch=0",
        "optim.lr=0.0", "schedule.warmup_iters=0"]
    result = fit(load_config(TINY, overrides + ["iterations=1"]), None, tmp_path / "run")
    trained, _ = load_embedder(result.model_path)
    start, _ = load_embedder(untrained_model_file)
    for x, y in zip(trained.state_dict().values(), start.state_dict().values()):
        torch.testing.assert_close(x, y)
    with pytest.raises(InputError, match="sphereface4"):
        fit(load_config(TINY, overrides + ["iterations=1", "model.backbone=sphereface20"]), None, tmp_path / "x")


def test_init_from_a_checkpoint_warm_starts_backbone_head_and_projector(built_bank, tmp_path, untrained_model_file):
    bank = Bank.open(built_bank)
    selection, _ = select(bank.rows, ["people"], [])
    selection.save(tmp_path / "sel.npz", {})
    overrides = _distill_overrides(built_bank, tmp_path / "sel.npz") + [
        "model.backbone=sphereface4", "model.embedding_size=512", "distill.unlabelled_per_batch=0"]
    first = tmp_path / "first"
    fit(load_config(TINY, overrides + [f"init={str(untrained_model_file)!r}", "iterations=2"]), None, first)
    before = load_checkpoint(first / CHECKPOINT_NAME)
    warm = overrides + [f"init={str(first / CHECKPOINT_NAME)!r}", "optim.lr=0.0", "schedule.warmup_iters=0"]
    fit(load_config(TINY, warm + ["iterations=1"]), None, tmp_path / "second")
    after = load_checkpoint(tmp_path / "second" / CHECKPOINT_NAME)
    assert int(after["iteration"]) == 1  # a fresh schedule, not a resume
    for part in ("model", "head", "projector"):
        for name, tensor in before[part].items():
            if (part, name) == ("head", "weight"):  # a cosine head re-normalises its columns at each forward
                tensor = torch.nn.functional.normalize(tensor, dim=0)
            torch.testing.assert_close(after[part][name], tensor, msg=f"{part}.{name}")
    (tmp_path / "exclude.txt").write_text("person_0\n", encoding="utf-8")
    fewer, _ = select(bank.rows, ["people"], [], exclude=tmp_path / "exclude.txt")
    assert fewer.num_classes != selection.num_classes
    fewer.save(tmp_path / "fewer.npz", {})
    with pytest.raises(InputError, match="head does not fit"):
        fit(load_config(TINY, warm + ["iterations=1", f"distill.selection={str(tmp_path / 'fewer.npz')!r}"]), None,
            tmp_path / "third")
    plain = tmp_path / "backbone.pt"  # a .pt that is a model's state dict, not a fit checkpoint: the backbone only
    torch.save(before["model"], plain)
    fit(load_config(TINY, overrides + [f"init={str(plain)!r}", "iterations=1"]), None, tmp_path / "fourth")
    (tmp_path / "damaged.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"^init '.*damaged.pt': checkpoint .* is unreadable"):
        fit(load_config(TINY, overrides + [f"init={str(tmp_path / 'damaged.pt')!r}"]), None, tmp_path / "fifth")


@pytest.fixture()
def two_teacher_bank(built_bank, tmp_path) -> Path:
    """A copy of the bank with BalanceTeacher's targets of views 0-1 added."""
    root = Path(shutil.copytree(built_bank, tmp_path / "two"))
    add_teacher(root, BalanceTeacher, views=2)
    return root


def test_an_added_teacher_embeds_the_first_views_and_continues_after_an_interruption(built_bank, tmp_path,
                                                                                     monkeypatch, capsys):
    monkeypatch.setattr(bank_module, "CHUNK", 8)
    root = Path(shutil.copytree(built_bank, tmp_path / "bank"))
    with pytest.raises(KeyboardInterrupt):
        add_teacher(root, lambda: BalanceTeacher(fail_after=2), views=2)
    assert Bank.open(root).teachers == ["colour"]  # listed only once complete
    teacher = BalanceTeacher()
    add_teacher(root, lambda: teacher, views=2)
    assert teacher.calls == 2  # 29 rows in chunks of 8: 2 of 4 were done before the interruption
    bank = Bank.open(root)
    assert bank.teachers == ["colour", "balance"] and bank.licence_of("balance") == "test only too"
    first_views = np.asarray(bank.views[:, :2]).reshape(-1, 112, 112, 3)
    np.testing.assert_allclose(np.asarray(bank.targets_of("balance")).reshape(len(first_views), -1),
                               BalanceTeacher().embed(first_views), atol=1e-6)
    add_teacher(root, lambda: teacher, views=2)
    assert teacher.calls == 2 and "nothing to do" in capsys.readouterr().out
    with pytest.raises(InputError, match="views must be 1..3"):
        add_teacher(root, BalanceTeacher, views=4)
    with pytest.raises(InputError, match="was built with colour"):
        add_teacher(root, ColourTeacher, views=1)
    with pytest.raises(InputError, match="not dlib.*bank add-teacher"):
        bank.targets_of("dlib")


def test_bank_faces_concatenate_each_teachers_target_of_the_view(two_teacher_bank, tmp_path):
    bank = Bank.open(two_teacher_bank)
    selection, _ = select(bank.rows, ["people"], ["strangers"])
    selection.save(tmp_path / "sel.npz", {})
    faces = BankFaces(two_teacher_bank, tmp_path / "sel.npz", ["colour", "balance"])
    row, balance = selection.rows[1], bank.targets_of("balance")
    _, _, mirrored = faces[1 * 3 + 1]
    _, _, augmented = faces[1 * 3 + 2]
    def centred(targets, view):
        moved = targets[row, view] - np.asarray(targets, np.float64).mean(axis=(0, 1))
        return moved / np.linalg.norm(moved)

    np.testing.assert_allclose(mirrored.numpy(), np.concatenate([centred(bank.targets, 1), centred(balance, 1)]),
                               rtol=1e-5)
    np.testing.assert_allclose(augmented.numpy(), np.concatenate([centred(bank.targets, 2), centred(balance, 0)]),
                               rtol=1e-5)
    assert faces.dims == [ColourTeacher.dim, BalanceTeacher.dim]
    assert faces.licence == "test only: distilled from colour; test only too: distilled from balance"


def test_fit_distils_from_two_teachers_warm_started_from_one(two_teacher_bank, tmp_path, untrained_model_file):
    bank = Bank.open(two_teacher_bank)
    selection, _ = select(bank.rows, ["people"], ["strangers"])
    selection.save(tmp_path / "sel.npz", {})
    overrides = _distill_overrides(two_teacher_bank, tmp_path / "sel.npz") + [
        "model.backbone=sphereface4", "model.embedding_size=512"]
    fit(load_config(TINY, overrides + [f"init={str(untrained_model_file)!r}", "iterations=1"]), None, tmp_path / "one")
    one = load_checkpoint(tmp_path / "one" / CHECKPOINT_NAME)
    assert list(one["projector"]) == ["colour.weight"]
    legacy = {**one, "projector": {"weight": one["projector"]["colour.weight"]}}  # saved before several teachers
    torch.save(legacy, tmp_path / "legacy.pt")
    both = overrides + ["distill.teachers={colour=0.5, balance=0.5}", "optim.lr=0.0", "schedule.warmup_iters=0"]
    for init in (tmp_path / "one" / CHECKPOINT_NAME, tmp_path / "legacy.pt"):
        result = fit(load_config(TINY, both + [f"init={str(init)!r}", "iterations=1"]), None, tmp_path / init.stem)
        two = load_checkpoint(tmp_path / init.stem / CHECKPOINT_NAME)
        torch.testing.assert_close(two["projector"]["colour.weight"], one["projector"]["colour.weight"])
        assert two["projector"]["balance.weight"].shape == (BalanceTeacher.dim, 512)
        _, info = load_embedder(result.model_path)
        assert "embedding distillation from colour + balance" in info.recipe
    with pytest.raises(InputError, match="shares must be > 0"):
        fit(load_config(TINY, overrides + ["distill.teachers={colour=1.0, balance=0.0}"]), None, tmp_path / "x")
    with pytest.raises(InputError, match="not dlib"):
        fit(load_config(TINY, overrides + ["distill.teachers={dlib=1.0}"]), None, tmp_path / "y")


def test_bank_cli_errors_are_one_line(capsys, tmp_path):
    assert main(["bank", "select", str(tmp_path / "missing"), str(tmp_path / "s.npz"), "--labelled", "a"]) == 2
    assert "is not a built bank" in capsys.readouterr().err
    assert main(["bank", "build", str(tmp_path / "b"), "--source", "nameonly"]) == 2
    assert "expected NAME=DIR" in capsys.readouterr().err
    assert main(["bank", "add-teacher", str(tmp_path / "missing")]) == 2
    assert "is not a built bank" in capsys.readouterr().err


def test_consistent_teaching_embeds_the_augmented_crop_the_student_sees(built_bank):
    views = torch.from_numpy(np.array(Bank.open(built_bank).views[:5, 0]))
    strong = AugmentConfig(flip_p=0.5, affine_p=1.0, colour_p=1.0)
    centre = np.full(ColourTeacher.dim, 0.1)
    labels, used, redraw = torch.arange(5), torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    crops, targets, same = ConsistentTeaching(ColourTeacher(), centre, BatchAugmenter(strong, used))(views, labels)
    again = BatchAugmenter(strong, redraw)(views).numpy()
    assert torch.equal(used.get_state(), redraw.get_state())  # without mixup, no draw beyond the augmentation
    assert not np.array_equal(again, views.numpy())  # the augmentation did change the views
    np.testing.assert_array_equal(crops.numpy(), again[:, :, 8:104])
    expected = ColourTeacher().embed(again) - centre
    np.testing.assert_allclose(targets.numpy(), expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-5)
    assert same.tolist() == labels.tolist()


def test_mixup_blends_a_fixed_share_of_each_group_with_other_faces(built_bank):
    views = torch.from_numpy(np.array(Bank.open(built_bank).views[:, 0]))
    labelled = torch.arange(len(views)) % 3 != 0
    mixed, blended = blend_some(views, labelled, 0.5, torch.Generator().manual_seed(5))
    assert int((blended & labelled).sum()) == int(labelled.sum()) // 2
    assert int((blended & ~labelled).sum()) == int((~labelled).sum()) // 2
    np.testing.assert_array_equal(mixed[~blended].numpy(), views[~blended].numpy())
    x, y = views.reshape(len(views), -1).double(), mixed.reshape(len(views), -1).double()
    for i in torch.nonzero(blended).view(-1).tolist():  # lam * x_i + (1 - lam) * x_j for some other face j
        fits = []
        for j in [j for j in range(len(views)) if j != i]:
            d = x[i] - x[j]
            lam = float(((y[i] - x[j]) @ d) / (d @ d))
            fits.append((0 <= lam <= 1, float((lam * x[i] + (1 - lam) * x[j] - y[i]).abs().max())))
        assert any(inside and error <= 1.0 for inside, error in fits), (i, sorted(e for _, e in fits)[:3])
    assert (mixed[blended] != views[blended]).any()
    _, almost_all = blend_some(views, labelled, 0.99, torch.Generator().manual_seed(5))
    assert (labelled & ~almost_all).any()  # a share below 1 always leaves labelled faces for the margin head


def test_mixup_in_consistent_teaching_labels_blends_as_distillation_only(built_bank):
    views = torch.from_numpy(np.array(Bank.open(built_bank).views[:, 0]))
    strong, teacher = AugmentConfig(flip_p=0.5, affine_p=1.0, colour_p=1.0), ColourTeacher()
    seen = []
    teacher.embed = lambda crops, embed=teacher.embed: seen.append(crops.copy()) or embed(crops)
    crops, targets, labels = ConsistentTeaching(teacher, np.zeros(ColourTeacher.dim), BatchAugmenter(
        strong, torch.Generator().manual_seed(7)), mixup_share=0.5)(views, torch.arange(len(views)))
    plain = BatchAugmenter(strong, torch.Generator().manual_seed(7))(views).numpy()  # before blending
    blends = (labels == -1).numpy()
    assert blends.sum() == len(views) // 2
    assert labels[~blends].tolist() == np.flatnonzero(~blends).tolist()
    np.testing.assert_array_equal(seen[0][~blends], plain[~blends])
    assert all(not np.array_equal(seen[0][i], plain[i]) for i in np.flatnonzero(blends))
    np.testing.assert_array_equal(crops.numpy(), seen[0][:, :, 8:104])  # the teacher saw what the student sees
    expected = ColourTeacher().embed(seen[0])
    np.testing.assert_allclose(targets.numpy(), expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-5)
    with pytest.raises(InputError, match="mixup_share needs distill.online_teacher"):
        load_config(TINY, ["distill.mixup_share=0.5"])
    with pytest.raises(InputError, match="between 0 and 1"):
        load_config(TINY, ["distill.mixup_share=1.0"])


@pytest.mark.parametrize("mixup", [0.0, 0.5])
def test_fit_with_consistent_teaching_resumes_exactly(built_bank, tmp_path, untrained_model_file, monkeypatch, mixup):
    teachers, labelled_rows = [], []
    monkeypatch.setattr(consistent, "open_teacher", lambda folder: teachers.append(ColourTeacher()) or teachers[-1])
    forward = fit_module._Trainee.forward
    monkeypatch.setattr(fit_module._Trainee, "forward", lambda self, images, labels: labelled_rows.append(
        int((labels >= 0).sum())) or forward(self, images, labels))
    bank = Bank.open(built_bank)
    selection, _ = select(bank.rows, ["people"], ["strangers"])
    selection.save(tmp_path / "sel.npz", {})
    config = load_config(TINY, _distill_overrides(built_bank, tmp_path / "sel.npz") + [
        "model.backbone=sphereface4", "model.embedding_size=512", "distill.online_teacher='teacher-folder'",
        "augment.affine_p=1.0", f"distill.mixup_share={mixup}",
        f"init={str(untrained_model_file)!r}", "iterations=4"])
    whole = fit(config, None, tmp_path / "whole")
    fit(config, None, tmp_path / "split", stop_at=2)
    resumed = fit(config, None, tmp_path / "split", resume=True)
    a, info = load_embedder(whole.model_path)
    b, _ = load_embedder(resumed.model_path)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(x, y)
    assert ("consistent teaching (targets of freshly augmented views, mixup of 0.5 of the faces)" if mixup else
            "consistent teaching (targets of freshly augmented views)") in info.recipe
    assert [teacher.calls for teacher in teachers] == [4, 2, 2]  # one teacher call a batch, in each of the 3 runs
    labelled = config.data.batch_size - config.distill.unlabelled_per_batch
    assert labelled_rows == [labelled - int(mixup * labelled)] * 8  # the margin head never sees a blend
    assert BankFaces(built_bank, tmp_path / "sel.npz", wide=True)[0][2].shape == (0,)  # no cached target read
    with pytest.raises(InputError, match="online_teacher needs distill.bank"):
        load_config(TINY, ["distill.online_teacher='teacher-folder'"])


def test_consistent_teaching_refuses_a_teacher_the_run_does_not_distil_from(two_teacher_bank, tmp_path, monkeypatch):
    monkeypatch.setattr(consistent, "open_teacher", lambda folder: BalanceTeacher())
    selection, _ = select(Bank.open(two_teacher_bank).rows, ["people"], ["strangers"])
    selection.save(tmp_path / "sel.npz", {})
    config = load_config(TINY, _distill_overrides(two_teacher_bank, tmp_path / "sel.npz") + [
        "model.backbone=sphereface4", "distill.online_teacher='teacher-folder'", "iterations=2"])
    with pytest.raises(InputError, match="distil from it alone"):
        fit(config, None, tmp_path / "run")
