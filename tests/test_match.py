"""Open-set matching: cosine scores, threshold rule, empty inputs, dtypes."""

import numpy as np
import pytest

from sphereapp.core.identities.match import assign_identities, match


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_scores_are_cosines_and_best_row_wins():
    rng = np.random.default_rng(0)
    gallery = unit_rows(rng, 5, 16)
    probes = np.concatenate([gallery[[3, 1]], unit_rows(rng, 2, 16)])
    result = match(probes, gallery, threshold=0.9)
    assert result.scores.shape == (4, 5) and result.scores.dtype == np.float32
    assert result.identity.shape == (4,) and result.identity.dtype == np.int64
    assert result.score.shape == (4,) and result.score.dtype == np.float32
    np.testing.assert_allclose(result.scores, probes.astype(np.float64) @ gallery.T, atol=1e-6)
    assert result.identity[:2].tolist() == [3, 1]
    np.testing.assert_allclose(result.score[:2], 1.0, atol=1e-6)
    assert result.identity[2:].tolist() == [-1, -1]  # random 16-d directions are far below 0.9
    np.testing.assert_array_equal(result.score, result.scores.max(axis=1))


def test_score_equal_to_threshold_counts_as_known():
    probe = np.array([[1.0, 0.0]], np.float32)
    gallery = np.array([[0.5, np.sqrt(0.75)], [0.0, 1.0]], np.float32)  # cosines exactly 0.5 and 0.0
    assert match(probe, gallery, threshold=0.5).identity.tolist() == [0]
    just_above = float(np.nextafter(np.float32(0.5), np.float32(1)))
    assert match(probe, gallery, threshold=just_above).identity.tolist() == [-1]
    assert match(probe, gallery, threshold=0.5).score[0] == np.float32(0.5)


def test_empty_gallery_makes_every_probe_unknown():
    probes = unit_rows(np.random.default_rng(1), 3, 8)
    result = match(probes, np.zeros((0, 8), np.float32), threshold=0.3)
    assert result.identity.tolist() == [-1, -1, -1]
    assert result.scores.shape == (3, 0)
    assert result.score.shape == (3,) and np.isnan(result.score).all()


def test_no_probes_gives_empty_results():
    gallery = unit_rows(np.random.default_rng(2), 4, 8)
    result = match(np.zeros((0, 8), np.float32), gallery, threshold=0.3)
    assert result.identity.shape == (0,) and result.score.shape == (0,) and result.scores.shape == (0, 4)


def test_float16_inputs_are_accepted_and_scored_in_float32():
    rng = np.random.default_rng(3)
    gallery, probes = unit_rows(rng, 6, 32), unit_rows(rng, 3, 32)
    exact = match(probes, gallery, threshold=0.2)
    half = match(probes.astype(np.float16), gallery.astype(np.float16), threshold=0.2)
    assert half.scores.dtype == np.float32
    np.testing.assert_allclose(half.scores, exact.scores, atol=2e-3)


def test_unnormalised_or_mismatched_inputs_are_refused():
    gallery = unit_rows(np.random.default_rng(4), 2, 8)
    with pytest.raises(ValueError, match="L2-normalised"):
        match(gallery * 2, gallery, threshold=0.3)
    with pytest.raises(ValueError, match="dimension"):
        match(unit_rows(np.random.default_rng(5), 1, 4), gallery, threshold=0.3)
    with pytest.raises(ValueError, match="floating-point"):
        match(gallery.astype(np.int64), gallery, threshold=0.3)
    with pytest.raises(ValueError, match="floating-point"):
        match(gallery[0], gallery, threshold=0.3)


def test_one_person_is_named_on_one_face_of_a_frame():
    scores = np.array([[0.62, 0.50, 0.1],   # looks most like 0, which face 1 matches better: falls back to 1
                       [0.80, 0.20, 0.1],   # the closest match of person 0
                       [0.70, 0.45, 0.1],   # 0 and 1 taken, nothing else above 0.4: unknown
                       [0.30, 0.20, 0.1]],  # below the threshold everywhere: unknown
                      np.float32)
    identity, similarity = assign_identities(scores, threshold=0.4)
    assert identity.tolist() == [1, 0, -1, -1]
    np.testing.assert_allclose(similarity, [0.50, 0.80, 0.70, 0.30])  # the named row's score, else the best


def test_a_single_face_is_named_as_match_names_it():
    rng = np.random.default_rng(1)
    scores = rng.uniform(-1, 1, size=(1, 6)).astype(np.float32)
    for threshold in (-1.0, 0.0, float(scores.max()), float(scores.max()) + 1e-3):
        identity, similarity = assign_identities(scores, threshold)
        expected = int(scores.argmax()) if scores.max() >= threshold else -1
        assert identity.tolist() == [expected] and similarity[0] == scores.max()


def test_empty_frame_or_gallery_names_nobody():
    identity, similarity = assign_identities(np.zeros((2, 0), np.float32), 0.3)
    assert identity.tolist() == [-1, -1] and np.isnan(similarity).all()
    identity, similarity = assign_identities(np.zeros((0, 3), np.float32), 0.3)
    assert identity.shape == (0,) and similarity.shape == (0,)
