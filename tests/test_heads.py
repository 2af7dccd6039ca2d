"""Classification heads: loss and gradients against slow float64 references, limiting cases, registry."""

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from training.heads import ClassifierHead, available_heads, build_head, register_head, sphereface2_loss_terms
from training.heads.asoftmax import asoftmax_lambda, asoftmax_psi
from training.heads.base import CosineHead

N, D, C = 6, 8, 5
LABELS = [0, 3, 1, 4, 2, 3]

Params = dict[str, np.ndarray]
LossFn = Callable[[Params], float]


# ---------------------------------------------------------------- slow references (loops, math, float64)


def ref_cos(p: Params, i: int, j: int) -> float:
    x, w = p["features"], p["weight"]
    dot = sum(x[i, d] * w[d, j] for d in range(D))
    return dot / math.sqrt(sum(x[i, d] ** 2 for d in range(D)))


def ref_norm(p: Params, i: int) -> float:
    return math.sqrt(sum(p["features"][i, d] ** 2 for d in range(D)))


def ref_cross_entropy(rows: list[list[float]]) -> float:
    total = 0.0
    for row, y in zip(rows, LABELS):
        top = max(row)
        total += top + math.log(sum(math.exp(v - top) for v in row)) - row[y]
    return total / len(rows)


def ref_softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def ref_psi(theta: float, m: float, max_k: int | None = None) -> float:
    k = math.floor(m * theta / math.pi)
    if max_k is not None:
        k = min(k, max_k)
    return (-1) ** k * math.cos(m * theta) - 2 * k


def ref_asoftmax(lam: float, m: int) -> Callable[[Params], LossFn]:
    def loss(p: Params) -> float:
        rows = []
        for i in range(N):
            row = []
            for j in range(C):
                c = ref_cos(p, i, j)
                if j == LABELS[i]:
                    psi = ref_psi(math.acos(c), m, max_k=m - 1)
                    row.append(ref_norm(p, i) * (lam * c + psi) / (1 + lam))
                else:
                    row.append(ref_norm(p, i) * c)
            rows.append(row)
        return ref_cross_entropy(rows)

    return lambda base: loss


def ref_asoftmax_os(s: float, m: float) -> Callable[[Params], LossFn]:
    def build(base: Params) -> LossFn:
        # the margin offset is a constant w.r.t. the parameters (computed at the base point)
        target_cos = [ref_cos(base, i, LABELS[i]) for i in range(N)]
        offsets = [ref_psi(math.acos(c), m) - c for c in target_cos]

        def loss(p: Params) -> float:
            rows = [
                [s * (ref_cos(p, i, j) + (offsets[i] if j == LABELS[i] else 0.0)) for j in range(C)]
                for i in range(N)
            ]
            return ref_cross_entropy(rows)

        return loss

    return build


def ref_cosface(s: float, m: float) -> Callable[[Params], LossFn]:
    def loss(p: Params) -> float:
        rows = [[s * (ref_cos(p, i, j) - (m if j == LABELS[i] else 0.0)) for j in range(C)] for i in range(N)]
        return ref_cross_entropy(rows)

    return lambda base: loss


def ref_arcface(s: float, m: float) -> Callable[[Params], LossFn]:
    def target(c: float) -> float:
        theta = math.acos(c)
        return math.cos(theta + m) if theta + m <= math.pi else c - m * math.sin(m)

    def loss(p: Params) -> float:
        rows = [
            [s * (target(ref_cos(p, i, j)) if j == LABELS[i] else ref_cos(p, i, j)) for j in range(C)]
            for i in range(N)
        ]
        return ref_cross_entropy(rows)

    return lambda base: loss


def ref_sphereface2(alpha: float, r: float, m: float, t: float, lw: float) -> Callable[[Params], LossFn]:
    def build(base: Params) -> LossFn:
        offsets = [[0.0] * C for _ in range(N)]
        for i in range(N):
            for j in range(C):
                c = ref_cos(base, i, j)
                margin = -m if j == LABELS[i] else m
                offsets[i][j] = 2 * ((c + 1) / 2) ** t - 1 + margin - c

        def loss(p: Params) -> float:
            total = 0.0
            for i in range(N):
                for j in range(C):
                    z = r * (ref_cos(p, i, j) + offsets[i][j]) + float(p["bias"])
                    if j == LABELS[i]:
                        total += alpha * ref_softplus(-z)
                    else:
                        total += (1 - alpha) * ref_softplus(z)
            return total * lw / (r * N)

        return loss

    return build


def ref_softmax(base: Params) -> LossFn:
    def loss(p: Params) -> float:
        w, b, x = p["linear.weight"], p["linear.bias"], p["features"]
        rows = [[sum(w[j, d] * x[i, d] for d in range(D)) + b[j] for j in range(C)] for i in range(N)]
        return ref_cross_entropy(rows)

    return loss


def numeric_gradient(loss_fn: LossFn, params: Params, h: float = 1e-6) -> Params:
    grads = {}
    for name, value in params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            original = value[index]
            value[index] = original + h
            plus = loss_fn(params)
            value[index] = original - h
            minus = loss_fn(params)
            value[index] = original
            grad[index] = (plus - minus) / (2 * h)
        grads[name] = grad
    return grads


# ---------------------------------------------------------------- helpers


def make_head(name: str, seed: int = 0, **hyperparams) -> ClassifierHead:
    """A float64 head; cosine heads get unit columns up front so the reference sees the same W."""
    torch.manual_seed(seed)
    head = build_head(name, D, C, **hyperparams).double()
    if isinstance(head, CosineHead):
        with torch.no_grad():
            head.weight.copy_(F.normalize(head.weight, dim=0))
    return head


def make_features(head: ClassifierHead, seed: int = 1) -> torch.Tensor:
    """Random features; for cosine heads one sample near its class weight and one near its opposite."""
    gen = torch.Generator().manual_seed(seed)
    features = 2.0 * torch.randn(N, D, generator=gen, dtype=torch.float64)
    if isinstance(head, CosineHead):
        weight = head.weight.detach()
        features[0] = 2.0 * weight[:, LABELS[0]] + 0.3 * features[0] / features[0].norm()
        features[1] = -2.0 * weight[:, LABELS[1]] + 0.3 * features[1] / features[1].norm()
    return features.requires_grad_(True)


def labels() -> torch.Tensor:
    return torch.tensor(LABELS)


# ---------------------------------------------------------------- loss and gradients vs references

CASES = [
    ("asoftmax", {}, 1000, ref_asoftmax(asoftmax_lambda(1000), 4)),
    ("asoftmax", {"base": 0.0, "lambda_min": 0.0}, 0, ref_asoftmax(0.0, 4)),
    ("asoftmax", {"m": 3, "base": 0.0, "lambda_min": 0.0}, 0, ref_asoftmax(0.0, 3)),
    ("asoftmax_os", {}, 0, ref_asoftmax_os(30.0, 1.5)),
    ("sphereface2", {}, 0, ref_sphereface2(0.7, 30.0, 0.4, 3.0, 50.0)),
    ("sphereface2", {"alpha": 0.6, "r": 20.0, "m": 0.2, "t": 2.0, "lw": 10.0}, 0, ref_sphereface2(0.6, 20, 0.2, 2, 10)),
    ("cosface", {}, 0, ref_cosface(30.0, 0.35)),
    ("arcface", {}, 0, ref_arcface(30.0, 0.5)),
    ("softmax", {}, 0, ref_softmax),
]


@pytest.mark.parametrize(("name", "hyperparams", "iteration", "reference"), CASES, ids=[c[0] for c in CASES])
def test_loss_and_gradients_match_slow_reference(name, hyperparams, iteration, reference):
    head = make_head(name, **hyperparams)
    head.set_iteration(iteration)
    features = make_features(head)
    out = head(features, labels())
    out.loss.backward()

    tensors = {"features": features, **dict(head.named_parameters())}
    params = {key: tensor.detach().numpy().copy() for key, tensor in tensors.items()}
    loss_fn = reference(params)
    expected_grads = numeric_gradient(loss_fn, params)

    assert out.loss.ndim == 0 and out.logits.shape == (N, C) and not out.logits.requires_grad
    assert out.loss.item() == pytest.approx(loss_fn(params), rel=1e-9)
    for key, tensor in tensors.items():
        np.testing.assert_allclose(tensor.grad.numpy(), expected_grads[key], rtol=1e-5, atol=1e-7, err_msg=key)


# ---------------------------------------------------------------- limiting cases


def test_asoftmax_with_m1_is_normalised_weight_softmax_scaled_by_feature_norm():
    head = make_head("asoftmax", m=1)
    features = make_features(head)
    out = head(features, labels())
    plain_logits = features @ head.weight
    torch.testing.assert_close(out.logits, plain_logits.detach())
    torch.testing.assert_close(out.loss, F.cross_entropy(plain_logits, labels()))


def test_asoftmax_with_huge_lambda_gives_plain_norm_times_cos_logits():
    head = make_head("asoftmax", base=1e12)
    features = make_features(head)
    out = head(features, labels())
    torch.testing.assert_close(out.logits, (features @ head.weight).detach(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["cosface", "arcface"])
def test_additive_margins_with_m0_equal_scaled_normalised_softmax(name):
    head = make_head(name, s=30.0, m=0.0)
    features = make_features(head)
    out = head(features, labels())
    grad_head = torch.autograd.grad(out.loss, features)[0]
    plain_loss = F.cross_entropy(30.0 * F.normalize(features, dim=1) @ head.weight, labels())
    grad_plain = torch.autograd.grad(plain_loss, features)[0]
    torch.testing.assert_close(out.loss, plain_loss)
    torch.testing.assert_close(grad_head, grad_plain)


def test_psi_is_monotonically_decreasing_on_0_pi_for_m4():
    theta = torch.linspace(0.0, math.pi, 2001, dtype=torch.float64)
    cos = torch.cos(theta).requires_grad_(True)
    psi = asoftmax_psi(cos, 4)
    (dpsi_dcos,) = torch.autograd.grad(psi.sum(), cos)
    assert psi[0].item() == pytest.approx(1.0)
    assert psi[-1].item() == pytest.approx(-7.0)
    assert bool((psi[1:] < psi[:-1]).all())
    assert bool((dpsi_dcos > -1e-9).all())  # increasing in cos, also at cos = -1 (branch k = m - 1)


def test_lambda_schedule():
    assert asoftmax_lambda(0) == pytest.approx(1000.0)
    assert asoftmax_lambda(100) == pytest.approx(1000.0 / 13.0)
    assert asoftmax_lambda(10**6) == pytest.approx(5.0)
    head = build_head("asoftmax", D, C)
    assert head.lambda_ == pytest.approx(1000.0)
    head.set_iteration(10**6)
    assert head.lambda_ == pytest.approx(5.0)
    with pytest.raises(ValueError):
        head.set_iteration(-1)


@pytest.mark.parametrize(
    ("num_classes", "hyperparams"),
    [(C, {}), (40, {"alpha": 0.8, "r": 40.0, "m": 0.3, "t": 2.0})],
)
def test_sphereface2_bias_init_zeroes_bias_gradient_when_all_cosines_are_zero(num_classes, hyperparams):
    # The closed form (opensphere sphereface2.py) solves alpha*sigmoid(-(a_y+b)) = (1-alpha)(C-1)*sigmoid(a_i+b),
    # i.e. dL/db = 0 when every cos is 0 (features orthogonal to all class weights, as near random init).
    feat_dim = num_classes + 8
    torch.manual_seed(0)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # so the bias is initialised without float32 rounding
    try:
        head = build_head("sphereface2", feat_dim, num_classes, **hyperparams)
    finally:
        torch.set_default_dtype(default_dtype)
    with torch.no_grad():
        head.weight.copy_(F.normalize(head.weight, dim=0))
    weight = head.weight.detach()
    raw = torch.randn(6, feat_dim, dtype=torch.float64)
    features = raw - (raw @ weight) @ torch.linalg.pinv(weight)  # project out the span of W's columns
    targets = torch.arange(6) % num_classes

    def bias_gradient(offset: float) -> float:
        head.zero_grad()
        with torch.no_grad():
            head.bias.add_(offset)
        head(features, targets).loss.backward()
        with torch.no_grad():
            head.bias.sub_(offset)
        return head.bias.grad.item()

    assert (F.normalize(features, dim=1) @ weight).abs().max() < 1e-12
    assert abs(bias_gradient(0.0)) < 1e-9
    assert bias_gradient(-1.0) < -1e-3 < 1e-3 < bias_gradient(1.0)  # the root is a minimum, not an accident


def test_sphereface2_class_sharded_loss_sums_to_full_loss_with_same_gradients():
    head = make_head("sphereface2")
    features = make_features(head)
    full = head(features, labels())
    full.loss.backward()
    full_grads = [features.grad.clone(), head.weight.grad.clone(), head.bias.grad.clone()]

    features.grad = None
    head.zero_grad()
    unit = F.normalize(features, dim=1)
    one_hot = F.one_hot(labels(), C).double()
    partial_losses = []
    for classes in (slice(0, 2), slice(2, C)):
        loss, logits = sphereface2_loss_terms(
            unit @ head.weight[:, classes], one_hot[:, classes], head.bias, 0.7, 30.0, 0.4, 3.0, 50.0
        )
        torch.testing.assert_close(logits.detach(), full.logits[:, classes])
        partial_losses.append(loss)
    total = sum(partial_losses)
    total.backward()

    torch.testing.assert_close(total, full.loss)
    for sharded, unsharded in zip([features.grad, head.weight.grad, head.bias.grad], full_grads):
        torch.testing.assert_close(sharded, unsharded)


# ---------------------------------------------------------------- contract and registry


@pytest.mark.parametrize("name", ["asoftmax", "asoftmax_os", "sphereface2", "cosface", "arcface"])
def test_cosine_heads_renormalise_weight_columns_each_forward(name):
    head = build_head(name, D, C)
    with torch.no_grad():
        head.weight.mul_(torch.linspace(0.5, 3.0, C))
    head(torch.randn(N, D), labels())
    torch.testing.assert_close(head.weight.norm(dim=0), torch.ones(C))


def test_registry_lists_builds_and_rejects():
    assert available_heads() == ["arcface", "asoftmax", "asoftmax_os", "cosface", "softmax", "sphereface2"]
    head = build_head("cosface", D, C, s=10.0, m=0.2)
    assert (head.s, head.m, head.feat_dim, head.num_classes) == (10.0, 0.2, D, C)
    with pytest.raises(ValueError, match="available: arcface, asoftmax"):
        build_head("nosuchhead", D, C)
    with pytest.raises(ValueError, match="already registered"):
        register_head("cosface")(ClassifierHead)
    with pytest.raises(TypeError):
        build_head("cosface", D, C, margin=0.2)
    with pytest.raises(ValueError):
        build_head("softmax", D, 1)
    with pytest.raises(ValueError):
        build_head("asoftmax", D, C, m=5)
