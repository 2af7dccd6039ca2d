"""Gallery store (SQLite), snapshots, photo reading and enrolment, with fake detector and embedder."""

import io
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from sphereapp.core.errors import InputError, NoFaceError
from sphereapp.core.identities import store as store_module
from sphereapp.core.identities.enrol import Enroller, gallery_from_folder, open_gallery
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.photos import photo_files
from sphereapp.core.identities.store import GalleryStore, default_gallery_path
from sphereapp.core.media.annotate import identity_color
from sphereapp.core.media.images import read_image_rgb

from fakes import FixedDetector, PerModelEmbedder, WholeImageDetector, add_person, detections, random_crop
from helpers import unit
from media_files import png_header_claiming


def progressive_colors(names):
    """The colours a gallery gives people enrolled in this order: each apart from the ones before it."""
    colors = []
    for name in names:
        colors.append(identity_color(name, colors))
    return colors


@pytest.fixture
def store_path(tmp_path) -> Path:
    return tmp_path / "gallery.sqlite"


def assert_one_line(error: pytest.ExceptionInfo) -> None:
    assert "\n" not in str(error.value) and str(error.value)


# ---------------------------------------------------------------------------------------------------------------
# Store


def test_identity_survives_reopening_exactly(store_path):
    crop, embedding = random_crop(1), unit([0.1, -0.7, 0.3, 0.2])
    with GalleryStore(store_path) as store:
        added = store.add("Ada", crop, embedding, "model-a", source="ada.jpg")
    with GalleryStore(store_path) as store:
        (stored,) = store.identities()
    assert (stored.id, stored.name, stored.model_id, stored.source) == (added.id, "Ada", "model-a", "ada.jpg")
    assert stored.color == identity_color("Ada")
    np.testing.assert_array_equal(stored.crop, crop)
    assert stored.embedding.dtype == np.float32
    np.testing.assert_array_equal(stored.embedding, embedding)
    raw = sqlite3.connect(store_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    png = raw.execute("SELECT crop FROM identities").fetchone()[0]
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[..., ::-1], crop)
    raw.close()


def test_names_are_trimmed_and_must_be_new_and_non_empty(store_path):
    with GalleryStore(store_path) as store:
        assert add_person(store, "  Ada \n", 1).name == "Ada"
        with pytest.raises(InputError) as duplicate:
            add_person(store, "Ada", 2)
        assert str(duplicate.value) == "'Ada' is already in the gallery; remove it first or choose another name"
        with pytest.raises(InputError, match="empty"):
            add_person(store, "   ", 3)
        assert [identity.name for identity in store.identities()] == ["Ada"]


def test_rename_keeps_colour_and_remove_deletes(store_path, monkeypatch):
    monkeypatch.setattr(store_module, "identity_color", lambda name, taken=(): (len(name), 0, 0))
    with GalleryStore(store_path) as store:
        add_person(store, "Ada", 1)
        add_person(store, "Bob", 2)
        store.rename("Ada", " Ada Lovelace ")
        with pytest.raises(InputError, match="'Bob' is already in the gallery"):
            store.rename("Ada Lovelace", "Bob")
        with pytest.raises(InputError, match="'Carol' is not in the gallery"):
            store.rename("Carol", "Dan")
        store.remove("Bob")
        with pytest.raises(InputError, match="'Bob' is not in the gallery"):
            store.remove("Bob")
    with GalleryStore(store_path) as store:
        (ada,) = store.identities()
    assert ada.name == "Ada Lovelace" and ada.color == (3, 0, 0)
    np.testing.assert_array_equal(ada.crop, random_crop(1))


def test_a_write_failing_midway_leaves_the_file_unchanged(store_path):
    with GalleryStore(store_path) as store:
        before = [add_person(store, name, seed) for seed, name in enumerate(["Ada", "Bob"])]
        raw = sqlite3.connect(store_path)  # Ada's row is updated first, then Bob's fails
        raw.execute("CREATE TRIGGER fail BEFORE UPDATE ON identities WHEN OLD.name = 'Bob' "
                    "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
        raw.commit()
        raw.close()
        with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
            store.refresh_embeddings(PerModelEmbedder("model-b"))
    with GalleryStore(store_path) as store:
        after = store.identities()
    assert [identity.model_id for identity in after] == ["model-a", "model-a"]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old.embedding, new.embedding)


def test_refresh_re_embeds_only_rows_of_another_model(store_path):
    embedder = PerModelEmbedder("model-b")
    with GalleryStore(store_path) as store:
        add_person(store, "Ada", 1, model_id="model-a")
        bob = add_person(store, "Bob", 2, model_id="model-b")
        add_person(store, "Cy", 3, model_id="model-a")
        assert store.refresh_embeddings(embedder) == 2
        assert embedder.batches == [2]  # one batch
        assert store.refresh_embeddings(embedder) == 0
        assert embedder.batches == [2]
        ada, stored_bob, cy = store.identities()
    assert {ada.model_id, stored_bob.model_id, cy.model_id} == {"model-b"}
    np.testing.assert_allclose(ada.embedding, PerModelEmbedder("model-b").embed(random_crop(1)[None])[0], rtol=1e-6)
    np.testing.assert_allclose(cy.embedding, PerModelEmbedder("model-b").embed(random_crop(3)[None])[0], rtol=1e-6)
    np.testing.assert_array_equal(stored_bob.embedding, bob.embedding)


def test_snapshot_from_store_uses_current_model(store_path):
    embedder = PerModelEmbedder("model-b")
    with GalleryStore(store_path) as store:
        empty = Gallery.from_store(store, embedder)
        add_person(store, "Ada", 1, model_id="model-a")
        add_person(store, "Bob", 2, model_id="model-a")
        snapshot = Gallery.from_store(store, embedder)
    assert len(empty) == 0 and empty.embeddings.shape == (0, 4)
    assert snapshot.names == ["Ada", "Bob"]
    assert snapshot.colors == progressive_colors(["Ada", "Bob"])
    assert snapshot.embeddings.dtype == np.float32
    np.testing.assert_allclose(snapshot.embeddings, embedder.embed(np.stack([random_crop(1), random_crop(2)])),
                               rtol=1e-6)


def test_second_writer_gets_a_quick_locked_error(store_path):
    with GalleryStore(store_path) as store:
        add_person(store, "Ada", 1)
    other_app = sqlite3.connect(store_path, isolation_level=None)
    other_app.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        with GalleryStore(store_path, timeout=0.1) as store:
            assert [identity.name for identity in store.identities()] == ["Ada"]  # WAL: reading still works
            started = time.monotonic()
            with pytest.raises(InputError, match="is locked by another sphereapp") as locked:
                add_person(store, "Bob", 2)
            assert time.monotonic() - started < 2
            assert_one_line(locked)
    finally:
        other_app.execute("ROLLBACK")
        other_app.close()


def check_read_only(store: GalleryStore) -> None:
    assert [identity.name for identity in store.identities()] == ["Ada"]
    for change in (lambda: add_person(store, "Bob", 2), lambda: store.remove("Ada"),
                   lambda: store.rename("Ada", "Eve")):
        with pytest.raises(InputError, match="is read-only") as refused:
            change()
        assert_one_line(refused)


def test_read_only_store_reads_but_refuses_changes(store_path):
    with GalleryStore(store_path) as store:
        add_person(store, "Ada", 1)
    with GalleryStore(store_path, read_only=True) as store:
        check_read_only(store)
        assert len(Gallery.from_store(store, PerModelEmbedder("model-a"))) == 1  # nothing to re-embed: no write
        with pytest.raises(InputError, match="is read-only"):
            Gallery.from_store(store, PerModelEmbedder("model-b"))
    with GalleryStore(store_path) as store:
        assert [(identity.name, identity.model_id) for identity in store.identities()] == [("Ada", "model-a")]


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root can write to read-only files")
def test_file_without_write_permission_opens_read_only(store_path):
    with GalleryStore(store_path) as store:
        add_person(store, "Ada", 1)
    store_path.chmod(0o444)
    with GalleryStore(store_path) as store:
        assert store.read_only
        check_read_only(store)


def test_garbage_and_foreign_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all " * 100)
    with pytest.raises(InputError, match="is not a sphereapp gallery") as refused:
        GalleryStore(garbage)
    assert_one_line(refused)
    foreign = tmp_path / "foreign.db"
    raw = sqlite3.connect(foreign)
    raw.execute("CREATE TABLE invoices (id INTEGER)")
    raw.commit()
    raw.close()
    with pytest.raises(InputError, match="another program's SQLite database"):
        GalleryStore(foreign)


def test_gallery_from_a_newer_sphereapp_is_refused(store_path):
    GalleryStore(store_path).close()
    raw = sqlite3.connect(store_path)
    raw.execute("PRAGMA user_version = 2")
    raw.commit()
    raw.close()
    with pytest.raises(InputError, match="newer sphereapp") as refused:
        GalleryStore(store_path)
    assert_one_line(refused)


def test_default_gallery_path(tmp_path, monkeypatch):
    assert default_gallery_path() == Path(os.environ["SPHEREAPP_HOME"]) / "gallery.sqlite"
    if sys.platform.startswith("linux"):
        monkeypatch.delenv("SPHEREAPP_HOME")
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        assert default_gallery_path() == tmp_path / "xdg" / "sphereapp" / "gallery.sqlite"
        assert (tmp_path / "xdg" / "sphereapp").is_dir()


# ---------------------------------------------------------------------------------------------------------------
# Reading photos


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red, right half blue as stored
    pixels[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = save(Image.fromarray(pixels), tmp_path / "rotated.jpg", exif=exif, quality=95)
    image = read_image_rgb(path)
    assert image.shape == (40, 20, 3) and image.dtype == np.uint8 and image.flags.c_contiguous
    np.testing.assert_allclose(image[5, 10], (255, 0, 0), atol=40)  # stored left is now on top
    np.testing.assert_allclose(image[35, 10], (0, 0, 255), atol=40)


def test_cmyk_and_greyscale_and_palette_become_rgb(tmp_path):
    cmyk = read_image_rgb(save(Image.new("CMYK", (16, 8), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=95))
    assert cmyk.shape == (8, 16, 3)
    np.testing.assert_allclose(cmyk[4, 8], (255, 0, 0), atol=30)
    grey = read_image_rgb(save(Image.new("L", (5, 4), 77), tmp_path / "grey.png"))
    assert grey.shape == (4, 5, 3) and (grey == 77).all()
    palette = Image.new("P", (6, 6), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    np.testing.assert_array_equal(read_image_rgb(save(palette, tmp_path / "palette.bmp"))[0, 0], (10, 200, 30))


def test_transparency_is_laid_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (0, 0, 255, 255)  # top opaque blue, bottom fully transparent
    image = read_image_rgb(save(Image.fromarray(rgba, "RGBA"), tmp_path / "alpha.png"))
    np.testing.assert_array_equal(image[0, 0], (0, 0, 255))
    np.testing.assert_array_equal(image[3, 3], (255, 255, 255))


def test_16_bit_pngs_are_scaled_to_8_bit(tmp_path):
    values = np.array([[0, 257 * 100], [257 * 200, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "grey16.png"), values)
    grey = read_image_rgb(tmp_path / "grey16.png")
    assert grey.dtype == np.uint8 and grey.shape == (2, 2, 3)
    np.testing.assert_array_equal(grey[..., 1], [[0, 100], [200, 255]])
    colour = np.stack([values, values // 2, np.full_like(values, 257 * 9)], axis=-1)  # R, G, B
    cv2.imwrite(str(tmp_path / "rgb16.png"), colour[..., ::-1])
    np.testing.assert_allclose(read_image_rgb(tmp_path / "rgb16.png"), colour // 257, atol=1)


def test_animated_image_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    np.testing.assert_array_equal(read_image_rgb(path)[4, 4], (255, 0, 0))


@pytest.mark.parametrize("width, height", [(10_000, 9_000), (30_000, 30_000)])  # ours, then PIL's bomb check
def test_huge_declared_size_is_refused_before_decoding(tmp_path, width, height):
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_claiming(width, height))
    with pytest.raises(InputError, match="too large") as refused:  # decoding the garbage would fail differently
        read_image_rgb(path)
    assert "huge.png" in str(refused.value)


def test_unreadable_and_missing_images_name_the_file(tmp_path):
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(InputError, match="notes.jpg") as unreadable:
        read_image_rgb(tmp_path / "notes.jpg")
    assert_one_line(unreadable)
    truncated = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(truncated, "PNG")
    (tmp_path / "cut.png").write_bytes(truncated.getvalue()[:60])
    with pytest.raises(InputError, match="cut.png") as cut:
        read_image_rgb(tmp_path / "cut.png")
    assert_one_line(cut)
    with pytest.raises(InputError, match="missing.png.*not found"):
        read_image_rgb(tmp_path / "missing.png")


# ---------------------------------------------------------------------------------------------------------------
# Enrolment

FACE_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def photo_with_faces(path: Path, boxes) -> Path:
    """A 400x300 grey photo with each box filled in its own colour."""
    pixels = np.full((300, 400, 3), 60, np.uint8)
    for (x1, y1, x2, y2), colour in zip(boxes, FACE_COLOURS):
        pixels[y1:y2, x1:x2] = colour
    return save(Image.fromarray(pixels), path)


def test_enrol_picks_the_largest_face_and_warns(tmp_path):
    boxes = [(176, 122, 224, 178), (0, 0, 96, 112), (300, 10, 348, 66)]  # small central, large corner, small
    path = photo_with_faces(tmp_path / "group.png", boxes)
    embedder = PerModelEmbedder()
    enrolment = Enroller(FixedDetector(detections(*boxes)), embedder).enrol_image(path)
    np.testing.assert_array_equal(enrolment.box, boxes[1])
    assert enrolment.n_faces == 3
    assert enrolment.warnings[0] == "3 faces found in 'group.png'; using the largest"  # then quality hints
    assert enrolment.crop.shape == (112, 96, 3) and enrolment.crop.dtype == np.uint8
    np.testing.assert_array_equal(enrolment.crop[56, 48], FACE_COLOURS[1])
    np.testing.assert_allclose(enrolment.embedding, PerModelEmbedder().embed(enrolment.crop[None])[0], rtol=1e-6)
    assert embedder.batches == [1]


def test_enrol_prefers_the_central_face_among_equal_sizes(tmp_path):
    boxes = [(0, 0, 96, 112), (152, 94, 248, 206)]  # same size: corner, centre
    path = photo_with_faces(tmp_path / "pair.png", boxes)
    enrolment = Enroller(FixedDetector(detections(*boxes)), PerModelEmbedder()).enrol_image(path)
    np.testing.assert_array_equal(enrolment.box, boxes[1])
    np.testing.assert_array_equal(enrolment.crop[56, 48], FACE_COLOURS[1])


def test_single_face_has_no_faces_warning_and_no_face_raises(tmp_path):
    box = (100, 50, 196, 162)
    path = photo_with_faces(tmp_path / "one.png", [box])
    warnings = Enroller(FixedDetector(detections(box)), PerModelEmbedder()).enrol_image(path).warnings
    assert not any("faces found" in warning for warning in warnings)
    with pytest.raises(NoFaceError, match="no face found in .*one.png") as none:
        Enroller(FixedDetector(detections()), PerModelEmbedder()).enrol_image(path)
    assert_one_line(none)


def test_find_faces_then_enrol_the_face_the_user_picks(tmp_path):
    boxes = [(176, 122, 224, 178), (0, 0, 96, 112)]
    path = photo_with_faces(tmp_path / "pair.png", boxes)
    enroller = Enroller(FixedDetector(detections(*boxes)), PerModelEmbedder())
    image, found = enroller.find_faces(path)
    assert image.shape == (300, 400, 3) and len(found.boxes) == 2
    picked = enroller.enrol_face(image, found.boxes[0], found.landmarks[0])  # not the largest
    np.testing.assert_array_equal(picked.box, boxes[0])
    np.testing.assert_array_equal(picked.crop[56, 48], FACE_COLOURS[0])
    assert picked.n_faces == 1 and not any("faces found" in warning for warning in picked.warnings)
    np.testing.assert_allclose(picked.embedding, PerModelEmbedder().embed(picked.crop[None])[0], rtol=1e-6)
    with pytest.raises(NoFaceError, match="pair.png"):
        Enroller(FixedDetector(detections()), PerModelEmbedder()).find_faces(path)


def test_enrol_into_store(tmp_path, store_path):
    box = (100, 50, 196, 162)
    path = photo_with_faces(tmp_path / "ada.png", [box])
    enroller = Enroller(FixedDetector(detections(box)), PerModelEmbedder("model-z"))
    with GalleryStore(store_path) as store:
        identity = enroller.enrol(store, "Ada", path)
        (stored,) = store.identities()
    assert (stored.name, stored.model_id, stored.source) == ("Ada", "model-z", str(path))
    np.testing.assert_array_equal(stored.crop, identity.crop)
    np.testing.assert_array_equal(stored.crop[56, 48], FACE_COLOURS[0])


def make_photo_folder(folder: Path) -> Path:
    folder.mkdir()
    for stem, value in [("Ada_Lovelace", 10), ("Zoë Ünïcode", 20), ("张 伟", 30), ("dark", 0)]:
        save(Image.new("RGB", (96, 112), (value, 100, 100) if value else (0, 0, 0)), folder / f"{stem}.png")
    save(Image.new("RGB", (96, 112), (5, 5, 5)), folder / "Grace Hopper.JPG")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("ignored")
    (folder / "Alan Turing.HEIC").write_bytes(b"ftypheic")  # a phone photo: not read, said so
    return folder


def test_gallery_from_folder_names_people_after_files(tmp_path, caplog):
    folder = make_photo_folder(tmp_path / "people")
    with caplog.at_level(logging.WARNING, logger="sphereapp.core.identities.enrol"):
        snapshot = gallery_from_folder(folder, Enroller(WholeImageDetector(), PerModelEmbedder()))
    assert snapshot.names == ["Ada Lovelace", "Grace Hopper", "Zoë Ünïcode", "张 伟"]
    assert snapshot.colors == progressive_colors(snapshot.names)
    assert snapshot.embeddings.shape == (4, 4) and snapshot.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(snapshot.embeddings, axis=1), 1.0, rtol=1e-6)
    skipped = " ".join(record.getMessage() for record in caplog.records)
    assert "broken.jpg" in skipped and "dark.png" in skipped and "notes.txt" not in skipped
    assert "'Alan Turing.HEIC': .heic photos are not read" in skipped


def test_gallery_from_folder_errors(tmp_path):
    enroller = Enroller(WholeImageDetector(), PerModelEmbedder())
    with pytest.raises(InputError, match="does not exist"):
        gallery_from_folder(tmp_path / "nobody", enroller)
    (tmp_path / "faceless").mkdir()
    save(Image.new("RGB", (8, 8)), tmp_path / "faceless" / "black.png")
    with pytest.raises(InputError, match="no face could be enrolled from the 1 photos"):
        gallery_from_folder(tmp_path / "faceless", enroller)


def test_unreadable_gallery_folder_is_a_one_line_error(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", refuse)
    with pytest.raises(InputError, match="cannot read the folder .*locked.*: Permission denied$"):
        photo_files([folder])


def test_open_gallery_accepts_folder_or_store_file(tmp_path, store_path):
    embedder = PerModelEmbedder()
    enroller = Enroller(WholeImageDetector(), embedder)
    folder = make_photo_folder(tmp_path / "people")
    assert len(open_gallery(folder, enroller, embedder)) == 4
    with GalleryStore(store_path) as store:
        add_person(store, "Ada", 1, model_id="old-model")
    from_file = open_gallery(str(store_path), enroller, embedder)
    assert from_file.names == ["Ada"]
    np.testing.assert_allclose(from_file.embeddings[0], embedder.embed(random_crop(1)[None])[0], rtol=1e-6)
    with pytest.raises(InputError, match="not found"):
        open_gallery(tmp_path / "missing.sqlite", enroller, embedder)
