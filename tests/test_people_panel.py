"""The "People in this video" panel: strip geometry and clicks, rows, and in the app (offscreen) indexing in the
background with Cancel, seeking from a strip, and "Enrol as…" re-labelling the index row and the live video; a
cancelled re-index showing the finished index again, and a row's menu or name dialog outliving the rows a snapshot
replaces.

The panel's own tests use an index made from fake faces (index_samples.sample_index); the app's index the
12-frame short_clip with the untrained SphereFace-4 (mechanics only, never recognition quality).
"""

from dataclasses import replace
from functools import partial

import pytest
import shiboken6
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox

from sphereapp.core.drivers.index import index_video
from sphereapp.core.identities.store import GalleryStore
from sphereapp.core.index.naming import name_person
from sphereapp.core.index.people import Appearance
from sphereapp.core.index.report import read_index
from sphereapp.gui import people_indexer
from sphereapp.gui.people_panel import UNKNOWN_COLOR, PeoplePanel
from sphereapp.gui.timeline_strip import MIN_SPAN_PX, appearance_at, seek_time, span_rects

from gui_helpers import WAIT_MS, names_drawn, open_clip
from index_samples import sample_index

SPANS = (Appearance(1.0, 3.0), Appearance(6.0, 6.01))  # on a 10 s video, 200 px: 20..60 px and a sliver at 120 px


def test_strip_geometry_and_what_a_click_shows():
    assert span_rects(SPANS, 10.0, 200) == [(20.0, 40.0), (120.0, MIN_SPAN_PX)]  # the sliver is drawn 2 px wide
    assert span_rects(SPANS, 0.0, 200) == []
    assert span_rects((Appearance(9.999, 10.0),), 10.0, 200) == [(200 - MIN_SPAN_PX, MIN_SPAN_PX)]  # kept inside
    assert [appearance_at(SPANS, 10.0, 200, x) for x in (19, 20, 40, 60, 61, 118, 125, 127)] == [
        None, 0, 0, 0, None, 1, 1, None]  # the sliver takes clicks 8 px wide
    assert seek_time(SPANS, 10.0, 200, 40) == pytest.approx(2.0)  # inside: the clicked moment
    assert seek_time(SPANS, 10.0, 200, 124) == 6.0  # on the sliver, past its end: its start
    assert seek_time(SPANS, 10.0, 200, 5) == 1.0  # between appearances: the start of the nearest
    assert seek_time(SPANS, 10.0, 200, 100) == 6.0
    assert seek_time(SPANS, 10.0, 200, 70) == 1.0
    assert seek_time((), 10.0, 200, 70) is None


@pytest.fixture
def panel(qtbot) -> PeoplePanel:
    panel = PeoplePanel()
    qtbot.addWidget(panel)
    panel.resize(900, 300)
    panel.show()
    return panel


def test_rows_show_each_person_and_clicks_ask_to_seek(qtbot, panel):
    assert panel.summary.text() == "No index of this video yet." and panel.hint.isVisible() and not panel.rows
    index = sample_index()  # Ada (known) 0-1 s; Unknown 1 at 0-1 s and 4-4.5 s; a 6 s video
    panel.set_index(index)
    assert [row.name.text() for row in panel.rows] == ["Ada", "Unknown 1"] and not panel.hint.isVisible()
    assert panel.summary.text().startswith("2 people (1 known, 1 unknown) \u00b7 model sphereface20 (id x)")
    ada, unknown = panel.rows
    assert ada.details.text() == "1.0 s on screen \u00b7 1 appearance"
    longest = ada.details.fontMetrics().horizontalAdvance("1234.5 s on screen \u00b7 99 appearances")
    assert longest <= ada.details.parentWidget().width()  # not cut off
    assert not ada.enrol_button.isVisible() and unknown.enrol_button.isVisible()
    assert ada.strip.geometry().right() == unknown.strip.geometry().right()  # strips line up
    assert unknown.strip.color.getRgb()[:3] == UNKNOWN_COLOR
    assert not ada.face.pixmap().isNull()  # the best face

    strip = unknown.strip
    x = round(strip.width() * 4.25 / 6.0)  # the middle of the second appearance
    with qtbot.waitSignal(panel.seekRequested) as sought:
        qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(x, strip.height() // 2))
    assert sought.args[0] == pytest.approx(x / strip.width() * 6.0) and 4.0 <= sought.args[0] < 4.5
    with qtbot.waitSignal(panel.seekRequested) as sought:
        qtbot.mouseClick(unknown, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))  # the row: first appearance
    assert sought.args == [0.0]
    with qtbot.waitSignal(panel.enrolRequested) as asked:
        unknown.enrol_button.click()
    assert asked.args == ["Unknown 1"]

    panel.set_position(4.25)
    assert strip.position == 4.25 and ada.strip.position == 4.25


def test_busy_panel_offers_cancel_and_keeps_the_rows_it_had(qtbot, panel):
    panel.set_index(sample_index())
    panel.set_busy(True)
    assert panel.progress.isVisible() and panel.cancel_button.isVisible() and not panel.index_button.isVisible()
    panel.show_progress(30, 120)
    assert panel.progress.value() == 30 and panel.summary.text().startswith("Indexing \u00b7 25%")
    with qtbot.waitSignal(panel.cancelRequested):
        panel.cancel_button.click()
    assert not panel.cancel_button.isEnabled() and panel.summary.text() == "Cancelling\u2026"
    panel.set_busy(False)
    assert [row.name.text() for row in panel.rows] == ["Ada", "Unknown 1"] and panel.summary.text().startswith("2 people")
    assert panel.index_button.isVisible() and panel.index_button.text() == "Index again"


def test_a_partial_index_shows_rows_with_enrol_disabled_and_the_final_one_enables_it(qtbot, panel):
    final = sample_index()
    panel.set_busy(True)
    panel.show_progress(30, 120)
    panel.set_index(replace(final, indexed_until=3.0))  # the people of the first 3 s, while indexing runs
    assert [row.name.text() for row in panel.rows] == ["Ada", "Unknown 1"] and not panel.hint.isVisible()
    assert panel.summary.text().startswith("Indexing \u00b7 25%")  # the progress stays
    unknown = panel.rows[1]
    assert unknown.enrol_button.isVisible() and not unknown.enrol_button.isEnabled()
    with qtbot.assertNotEmitted(panel.enrolRequested):
        qtbot.mouseClick(unknown.enrol_button, Qt.MouseButton.LeftButton)
    panel.set_busy(False)  # cancelled: the partial rows stay, and say so
    assert panel.summary.text().startswith("Partial: first 0:03.0 of 0:06.0 \u00b7 2 people (1 known, 1 unknown)")
    assert len(panel.rows) == 2 and not panel.rows[1].enrol_button.isEnabled()
    panel.set_index(final)
    assert panel.summary.text().startswith("2 people") and panel.rows[1].enrol_button.isEnabled()


def test_save_is_offered_only_for_a_finished_index(qtbot, panel):
    assert not panel.save_button.isEnabled()  # no index yet
    final = sample_index()
    panel.set_busy(True)
    panel.set_index(replace(final, indexed_until=3.0))  # the people found so far
    assert panel.save_button.isVisible() and not panel.save_button.isEnabled()
    with qtbot.assertNotEmitted(panel.saveRequested):
        qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    panel.set_busy(False)  # cancelled: still partial
    assert not panel.save_button.isEnabled() and "Once indexing has finished" in panel.save_button.toolTip()
    panel.set_index(final)
    assert panel.save_button.isEnabled() and ".json" in panel.save_button.toolTip()
    with qtbot.waitSignal(panel.saveRequested):
        qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    panel.set_busy(True)  # indexing again: the finished index shown until the first snapshot can still be saved
    assert panel.save_button.isEnabled()
    panel.set_index(None)
    assert not panel.save_button.isEnabled()


@pytest.fixture
def bare_window(qtbot, make_window, monkeypatch):
    """The app's window without a model (none is loaded: the people panel is given its index directly)."""
    for module in ("sphereapp.core.vision.catalog", "sphereapp.gui.engine"):
        monkeypatch.setattr(f"{module}.default_model_path", lambda: None)
    return make_window(None)


def choose_save_target(monkeypatch, target, chosen_filter="Report (*.html)") -> list:
    """Answer the save dialog with `target`; returns the (caption, suggestion, filters) it was opened with."""
    asked = []

    def answer(parent, caption, suggestion, filters, *args, **kwargs):
        asked.append((caption, suggestion, filters))
        return str(target), chosen_filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answer))
    return asked


def visible_boxes(window) -> list:
    return [box for box in window.findChildren(QMessageBox) if box.isVisible()]


def test_save_writes_the_shown_index_in_the_format_its_name_says(qtbot, bare_window, out_dir, monkeypatch):
    window, panel = bare_window, bare_window.people_panel
    index = replace(sample_index(), video=str(out_dir / "walk.mp4"))
    panel.set_index(index)
    labels = [person.label for person in index.people]

    asked = choose_save_target(monkeypatch, out_dir / "people.json")
    panel.save_button.click()
    assert asked == [("Save the people index", str(out_dir / "walk_people.html"),
                      "Report (*.html);;Index (*.json);;Appearances (*.csv)")]  # beside the video
    assert [person["label"] for person in read_index(out_dir / "people.json")["people"]] == labels
    assert window.statusBar().currentMessage() == "Saved people index to people.json" and not visible_boxes(window)

    choose_save_target(monkeypatch, out_dir / "walk_people.html")
    panel.save_button.click()
    page = (out_dir / "walk_people.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and all(f"<b>{label}</b>" in page for label in labels)
    choose_save_target(monkeypatch, out_dir / "appearances.CSV")
    panel.save_button.click()
    rows = (out_dir / "appearances.CSV").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "label,name,known,start,end" and len(rows) == 1 + sum(len(p.appearances) for p in index.people)

    choose_save_target(monkeypatch, out_dir / "plain", "Index (*.json)")  # no suffix: the chosen filter's
    panel.save_button.click()
    assert [person["label"] for person in read_index(out_dir / "plain.json")["people"]] == labels
    assert window.statusBar().currentMessage() == "Saved people index to plain.json"

    files = sorted(out_dir.iterdir())
    choose_save_target(monkeypatch, "")  # the dialog cancelled
    panel.save_button.click()
    assert sorted(out_dir.iterdir()) == files and not visible_boxes(window)


def test_a_target_that_cannot_be_written_is_a_warning_and_leaves_no_file(qtbot, bare_window, out_dir, monkeypatch):
    window, panel = bare_window, bare_window.people_panel
    panel.set_index(replace(sample_index(), video=str(out_dir / "walk.mp4")))
    folder = out_dir / "walk_people.html"
    folder.mkdir()  # a folder where the file would go
    window.statusBar().showMessage("before")
    choose_save_target(monkeypatch, folder)
    panel.save_button.click()
    (box,) = visible_boxes(window)
    assert box.windowTitle() == "Cannot save the people index" and "\n" not in box.text()
    assert box.text().startswith(f"cannot write '{folder}'")
    assert folder.is_dir() and not any(folder.iterdir()) and list(out_dir.iterdir()) == [folder]  # no temporary
    assert window.statusBar().currentMessage() == "before"
    box.close()

    choose_save_target(monkeypatch, out_dir / "people.txt")  # no format of the index
    panel.save_button.click()
    (box,) = visible_boxes(window)
    assert "name it .html (report), .json (index) or .csv (appearances)" in box.text()
    assert list(out_dir.iterdir()) == [folder]


def enrol_dialog(window) -> QInputDialog | None:
    """The open "Enrol as…" name dialog."""
    return next((dialog for dialog in window.findChildren(QInputDialog) if dialog.isVisible()), None)


def answer_enrol_dialog(qtbot, window, name: str) -> None:
    qtbot.waitUntil(lambda: enrol_dialog(window) is not None, timeout=WAIT_MS)
    dialog = enrol_dialog(window)
    dialog.setTextValue(name)
    dialog.accept()


def index_clip(qtbot, window) -> None:
    window.index_action.trigger()
    assert window.people_dock.isVisible() and window.people_panel.progress.isVisible()
    qtbot.waitUntil(lambda: window.people_panel.index is not None, timeout=120_000)


def test_indexing_fills_the_panel_a_strip_seeks_and_enrol_as_names_the_row_and_the_video(qtbot, window, short_clip,
                                                                                          gallery_path):
    open_clip(qtbot, window, short_clip)
    assert not window.people_dock.isVisible()  # shown when asked for
    index_clip(qtbot, window)
    panel = window.people_panel
    people = panel.index.people
    assert people and [row.name.text() for row in panel.rows] == [f"Unknown {k}" for k in range(1, len(people) + 1)]
    assert not panel.progress.isVisible() and "Indexed hikers_12.mp4" in window.statusBar().currentMessage()

    strip = panel.rows[0].strip
    with qtbot.waitSignal(window.player.overlayChanged, timeout=WAIT_MS):
        qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(strip.width() // 2, 5))
    middle = strip.width() // 2 / strip.width() * panel.index.duration
    assert window.player.index == round(middle * window.player.fps) > 0
    assert strip.position == pytest.approx(window.player.overlay.frame.time)

    panel.rows[0].enrol_button.click()
    answer_enrol_dialog(qtbot, window, "Walker")
    qtbot.waitUntil(lambda: window.gallery_panel.names() == ["Walker"], timeout=WAIT_MS)
    assert [row.name.text() for row in panel.rows][0] == "Walker" and panel.index.people[0].known
    assert not panel.rows[0].enrol_button.isVisible()
    with GalleryStore(gallery_path) as store:
        (identity,) = store.identities()
    assert identity.source == f"{short_clip} (Unknown 1)"
    # The engine read the gallery again: the live video is labelled with the new name.
    qtbot.waitUntil(lambda: window.player.overlay.recognizer.gallery.names == ["Walker"], timeout=WAIT_MS)
    window.recognition_box.set_threshold(min(float(face.scores[0]) for face in window.player.overlay.result.faces)
                                         - 0.001)
    assert "Walker" in names_drawn(window)

    if len(panel.rows) > 1:  # a name the index already has is refused before anything is stored
        panel.rows[1].enrol_button.click()
        answer_enrol_dialog(qtbot, window, "Walker")
        (box,) = [box for box in window.findChildren(QMessageBox) if box.isVisible()]
        assert box.windowTitle() == "Cannot enrol" and "already one of the people" in box.text()
        assert window.gallery_panel.names() == ["Walker"] and panel.rows[1].name.text() == "Unknown 2"


def test_cancelled_indexing_leaves_the_panel_as_it_was_and_failures_are_dialogs(qtbot, window, short_clip, tmp_path):
    moved = tmp_path / "clip.mp4"
    moved.write_bytes(short_clip.read_bytes())
    open_clip(qtbot, window, moved)
    window.indexing.progress.connect(lambda *_: window.people_panel.cancel_button.click())  # Cancel at once
    window.index_action.trigger()
    qtbot.waitUntil(lambda: not window.people_panel.progress.isVisible(), timeout=120_000)
    assert window.people_panel.index is None and not window.people_panel.rows
    assert window.people_panel.summary.text() == "No index of this video yet."
    assert window.statusBar().currentMessage() == "Indexing cancelled"

    window.indexing.progress.disconnect()
    moved.unlink()  # the video is gone: indexing cannot read it
    window.index_action.trigger()
    qtbot.waitUntil(lambda: any(box.isVisible() for box in window.findChildren(QMessageBox)), timeout=120_000)
    (box,) = [box for box in window.findChildren(QMessageBox) if box.isVisible()]
    assert box.windowTitle() == "Cannot index the video" and "clip.mp4" in box.text()
    assert window.people_panel.index is None and not window.people_panel.progress.isVisible()


def test_rows_appear_while_indexing_runs_stay_after_cancel_and_the_final_index_enables_enrol(qtbot, window, short_clip,
                                                                                            monkeypatch):
    monkeypatch.setattr(people_indexer, "index_video", partial(index_video, people_every=0))  # after every frame
    open_clip(qtbot, window, short_clip)
    panel = window.people_panel
    finished, shown = [], []  # what the panel showed as each snapshot arrived (the window's slot runs first)
    window.indexing.finished.connect(lambda *_: finished.append(True))
    window.indexing.people.connect(lambda index: shown.append(
        (panel.index is index, len(panel.rows), [row.enrol_button.isEnabled() for row in panel.rows],
         panel.summary.text(), bool(finished))))

    def cancel_once_rows_show(index):
        if index.people:
            panel.cancel_button.click()

    window.indexing.people.connect(cancel_once_rows_show)
    window.index_action.trigger()
    qtbot.waitUntil(lambda: not panel.progress.isVisible(), timeout=120_000)
    window.indexing.people.disconnect(cancel_once_rows_show)
    assert shown and shown[-1][1] > 0 and not finished  # cancelled at the first snapshot with rows
    assert panel.index.partial and len(panel.rows) == len(panel.index.people) == shown[-1][1]
    assert panel.summary.text().startswith("Partial: first ")
    assert window.statusBar().currentMessage().startswith("Indexing cancelled: the panel keeps the people of the first")
    assert not any(row.enrol_button.isEnabled() for row in panel.rows)

    shown.clear()
    with qtbot.waitSignal(window.indexing.finished, timeout=120_000):
        window.index_action.trigger()
    assert shown and all(is_shown and not done for is_shown, _, _, _, done in shown)  # rows before `finished`
    assert any(rows for _, rows, _, _, _ in shown)
    assert not any(any(enabled) for _, _, enabled, _, _ in shown)  # no "Enrol as…" from a partial grouping
    assert all(text.startswith(("Loading the models", "Indexing \u00b7")) for _, _, _, text, _ in shown)
    assert not panel.index.partial and len(panel.rows) == shown[-1][1]  # the last snapshot had everyone
    assert all(row.enrol_button.isEnabled() for row in panel.rows)
    assert panel.summary.text().startswith(f"{len(panel.rows)} ")

    # Indexing again, cancelled once its first snapshot with rows shows: the finished index comes back, enrollable.
    finished_index, finished_rows = panel.index, [row.name.text() for row in panel.rows]
    shown.clear()
    finished.clear()
    window.indexing.people.connect(cancel_once_rows_show)
    window.index_action.trigger()
    qtbot.waitUntil(lambda: not panel.progress.isVisible(), timeout=120_000)
    assert any(rows for _, rows, _, _, _ in shown) and all(is_shown for is_shown, _, _, _, _ in shown)
    assert not finished  # cancelled
    assert panel.index is finished_index and [row.name.text() for row in panel.rows] == finished_rows
    assert all(row.enrol_button.isEnabled() for row in panel.rows) and panel.save_button.isEnabled()
    assert panel.summary.text().startswith(f"{len(panel.rows)} ")
    assert window.statusBar().currentMessage() == ("Indexing cancelled: the panel shows the finished index it had "
                                                    "before again")


def snapshot(index, until: float = 3.0, **changes):
    """A partial index of indexing (again) with the same people objects, or `changes` (e.g. another video)."""
    return replace(index, indexed_until=until, **changes)


def test_the_panel_keeps_the_last_finished_index_of_the_video_only(qtbot, panel):
    final = sample_index()
    panel.set_index(final)
    panel.set_busy(True)  # indexing again
    panel.set_index(snapshot(final))
    assert panel.index.partial and not panel.save_button.isEnabled()
    assert not any(row.enrol_button.isEnabled() for row in panel.rows)
    assert panel.restore_finished() and panel.index is final
    panel.set_busy(False)
    assert panel.summary.text().startswith("2 people") and panel.save_button.isEnabled()
    assert panel.rows[1].enrol_button.isEnabled()
    assert not panel.restore_finished() and panel.index is final  # nothing partial to replace

    panel.set_index(snapshot(final, video="other.mp4"))  # another video's snapshot: the old rows never come back
    assert not panel.restore_finished() and panel.index.video == "other.mp4" and panel.last_finished is None
    panel.set_index(final)
    panel.set_index(None)  # a video opened: forgotten, even for a snapshot naming the same file
    panel.set_index(snapshot(final))
    assert not panel.restore_finished() and panel.index.partial


def test_cancel_or_failure_of_indexing_again_shows_the_finished_index_and_a_new_video_forgets_it(
        qtbot, bare_window, short_clip):
    window, panel = bare_window, bare_window.people_panel
    final = replace(sample_index(), video=str(short_clip))
    window.indexing.finished.emit(final, window._recognition)
    panel.set_busy(True)  # what Index again does (this window has no model to index with)
    window.indexing.people.emit(snapshot(final))
    assert panel.index.partial and not panel.save_button.isEnabled()
    window.indexing.cancelled.emit()
    assert panel.index is final and not panel.progress.isVisible()
    assert panel.save_button.isEnabled() and panel.rows[1].enrol_button.isEnabled()
    assert window.statusBar().currentMessage() == ("Indexing cancelled: the panel shows the finished index it had "
                                                    "before again")

    panel.set_busy(True)
    window.indexing.people.emit(snapshot(final))
    window.indexing.failed.emit("cannot read frame 7")
    assert panel.index is final and panel.save_button.isEnabled()
    (box,) = visible_boxes(window)
    assert box.text() == "cannot read frame 7\nThe panel shows the finished index it had before again."
    box.close()

    open_clip(qtbot, window, short_clip, recognised=False)  # opened again: the index is forgotten
    assert panel.index is None
    panel.set_busy(True)
    window.indexing.people.emit(snapshot(final, 1.0))
    window.indexing.cancelled.emit()
    assert panel.index.partial and panel.index.indexed_until == 1.0 and not panel.save_button.isEnabled()
    assert window.statusBar().currentMessage().startswith("Indexing cancelled: the panel keeps the people of the first")


def open_row_menu(qtbot, row):
    """Right-click the row; returns the menu that pops up."""
    QApplication.sendEvent(row, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, QPoint(5, 5),
                                                  row.mapToGlobal(QPoint(5, 5))))
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None, timeout=WAIT_MS)
    return QApplication.activePopupWidget()


def menu_action(menu, text: str):
    (action,) = [action for action in menu.actions() if action.text() == text]
    return action


def test_a_rows_menu_stays_open_and_safe_while_a_snapshot_replaces_the_rows(qtbot, panel):
    final = sample_index()
    panel.set_index(final)
    row = panel.rows[1]  # Unknown 1: at 0 s and 4 s
    menu = open_row_menu(qtbot, row)
    assert menu_action(menu, "Enrol as\u2026").isEnabled()
    panel.set_busy(True)  # indexing again: its first snapshot replaces the rows under the open menu
    panel.set_index(snapshot(final))
    qtbot.waitUntil(lambda: not shiboken6.isValid(row), timeout=WAIT_MS)  # the row is gone
    assert shiboken6.isValid(menu) and menu.isVisible() and QApplication.activePopupWidget() is menu
    enrol = menu_action(menu, "Enrol as\u2026")
    assert not enrol.isEnabled()  # about rows that are gone: refused
    enrol.setEnabled(True)  # even when triggered
    with qtbot.assertNotEmitted(panel.enrolRequested):
        enrol.trigger()
    with qtbot.waitSignal(panel.seekRequested) as sought:  # going to the first appearance still works
        menu_action(menu, "Go to first appearance").trigger()
    assert sought.args == [0.0]
    menu.close()

    menu = open_row_menu(qtbot, panel.rows[1])  # a partial row's menu: Enrol disabled, and stays so
    assert not menu_action(menu, "Enrol as\u2026").isEnabled()
    panel.set_busy(False)
    panel.set_index(final)  # the final index arrives while it is open
    assert menu.isVisible() and not menu_action(menu, "Enrol as\u2026").isEnabled()
    menu.close()
    menu = open_row_menu(qtbot, panel.rows[1])
    with qtbot.waitSignal(panel.enrolRequested) as asked:
        menu_action(menu, "Enrol as\u2026").trigger()
    assert asked.args == ["Unknown 1"]


def test_enrol_as_refuses_a_person_whose_row_was_replaced_while_the_name_was_asked(qtbot, bare_window, monkeypatch):
    window, panel = bare_window, bare_window.people_panel
    enrolments = []
    monkeypatch.setattr(window.indexing, "enrol", lambda index, person, name, *_: enrolments.append(
        (index, person.label, name)))
    final = sample_index()
    window.indexing.finished.emit(final, window._recognition)
    panel.set_busy(True)  # indexing again: the finished index shows, enrollable, until the first snapshot
    row = panel.rows[1]
    row.enrol_button.click()
    qtbot.waitUntil(lambda: enrol_dialog(window) is not None, timeout=WAIT_MS)
    window.indexing.people.emit(snapshot(final))  # the first snapshot, while the name is asked
    qtbot.waitUntil(lambda: not shiboken6.isValid(row), timeout=WAIT_MS)
    window.indexing.finished.emit(sample_index(), window._recognition)  # and the final index: other people objects
    answer_enrol_dialog(qtbot, window, "Walker")
    (box,) = visible_boxes(window)
    assert box.windowTitle() == "Cannot enrol" and box.text().startswith("Nothing was enrolled: the people list "
                                                                          "changed while the name was asked")
    assert not enrolments and [row.name.text() for row in panel.rows] == ["Ada", "Unknown 1"]
    box.close()

    panel.set_index(snapshot(panel.index))
    window.ask_enrol_person("Unknown 1")  # from a partial index: no dialog at all
    assert enrol_dialog(window) is None
    panel.set_index(final)

    panel.rows[1].enrol_button.click()  # a row renamed meanwhile (another enrolment ended) is the same person
    qtbot.waitUntil(lambda: enrol_dialog(window) is not None, timeout=WAIT_MS)
    renamed = name_person(final, "Ada", "Ada L")
    panel.set_index(renamed)
    answer_enrol_dialog(qtbot, window, "Walker")
    assert enrolments == [(renamed, "Unknown 1", "Walker")] and not visible_boxes(window)
