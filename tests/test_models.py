"""SphereFace networks (structure, initialisation, parameter counts), the model registry, input normalisation."""

import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from sphereapp.core.vision.models import SphereFaceNet, available_models, build_model, normalize_input, register_model
from sphereapp.core.vision.models import registry
from sphereapp.core.vision.models.sphereface import UNITS_PER_STAGE

from helpers import REPO_ROOT


def on_meta(name: str, **kwargs) -> nn.Module:
    """Build without allocating or initialising weights: for structure and parameter counts."""
    with torch.device("meta"):
        return build_model(name, initialise=False, **kwargs)


def parameter_count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def random_input(batch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(batch)
    return normalize_input(torch.randint(0, 256, (batch, 112, 96, 3), dtype=torch.uint8, generator=generator))


def test_registry_lists_the_four_depths():
    assert {"sphereface4", "sphereface20", "sphereface36", "sphereface64"} <= set(available_models())
    assert available_models() == sorted(available_models())


def test_unknown_model_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="sphereface20") as raised:
        build_model("resnet50")
    assert "resnet50" in str(raised.value)


def test_register_model_adds_a_builder_and_refuses_duplicates(monkeypatch):
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))

    @register_model("tiny")
    def build_tiny(embedding_size: int = 4) -> nn.Module:
        return nn.Linear(2, embedding_size)

    assert "tiny" in available_models()
    assert build_model("tiny", embedding_size=3).out_features == 3
    with pytest.raises(ValueError, match="already registered"):
        register_model("tiny")(build_tiny)


def test_sphereface20_has_the_papers_parameter_count():
    # REFERENCE.md / paper: SphereFace-20 has 22.7M parameters.
    assert parameter_count(on_meta("sphereface20")) == pytest.approx(22.7e6, abs=0.05e6)


@pytest.mark.parametrize("depth", sorted(UNITS_PER_STAGE))
def test_every_conv_is_followed_by_prelu_and_there_is_no_batchnorm(depth):
    model = on_meta(f"sphereface{depth}")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    prelus = [m for m in model.modules() if isinstance(m, nn.PReLU)]
    expected_convs = 4 + 2 * sum(UNITS_PER_STAGE[depth])
    assert len(convs) == len(prelus) == expected_convs
    assert expected_convs == depth  # the name counts conv layers (SphereFace-20: 20 convs, 20 PReLUs)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert all(p.num_parameters == c.out_channels for c, p in zip(convs, prelus))  # one slope per channel


def test_parameter_count_grows_with_depth():
    counts = [parameter_count(on_meta(f"sphereface{depth}")) for depth in (4, 20, 36, 64)]
    assert counts == sorted(counts) and len(set(counts)) == 4


def test_initialisation_follows_the_prototxt():
    torch.manual_seed(0)
    model = SphereFaceNet(20)
    for stage in model.stages:
        weight = stage.downsample.conv.weight  # xavier: U(-a, a), a = sqrt(3 / fan_in)
        bound = math.sqrt(3 / weight[0].numel())
        assert weight.abs().max() <= bound and weight.abs().max() > 0.9 * bound
        assert torch.all(stage.downsample.conv.bias == 0)
        for unit in stage.units:
            for conv_prelu in (unit.conv1, unit.conv2):
                assert conv_prelu.conv.bias is None
                assert conv_prelu.conv.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert all(torch.all(m.weight == 0.25) for m in model.modules() if isinstance(m, nn.PReLU))
    assert torch.all(model.fc5.bias == 0)
    assert model.fc5.weight.abs().max() <= math.sqrt(3 / (512 * 7 * 6))


def test_sphereface4_output_shape_and_custom_embedding_size():
    model = build_model("sphereface4", embedding_size=128).eval()
    with torch.inference_mode():
        output = model(random_input(3))
    assert output.shape == (3, 128) and output.dtype == torch.float32
    assert torch.isfinite(output).all()


def test_sphereface20_forward_on_two_images():
    model = build_model("sphereface20").eval()
    with torch.inference_mode():
        output = model(random_input(2))
    assert output.shape == (2, 512)
    assert not torch.allclose(output[0], output[1])


def test_channels_last_model_gives_the_same_output():
    torch.manual_seed(1)
    model = build_model("sphereface4").eval()
    images = random_input(2)
    with torch.inference_mode():
        expected = model(images.contiguous())
        actual = model.to(memory_format=torch.channels_last)(images)
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def test_unsupported_depth_is_refused():
    with pytest.raises(ValueError, match="4, 20, 36, 64"):
        SphereFaceNet(18)


def test_normalize_input_scales_and_transposes():
    images = torch.zeros((1, 2, 3, 3), dtype=torch.uint8)
    images[..., 0], images[..., 1], images[..., 2] = 0, 128, 255  # R, G, B planes
    normalized = normalize_input(images)
    assert normalized.shape == (1, 3, 2, 3) and normalized.dtype == torch.float32
    for channel, value in enumerate((0, 128, 255)):
        assert torch.all(normalized[0, channel] == (value - 127.5) / 128)
    assert normalized.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("bad", [torch.zeros((1, 4, 4, 3)), torch.zeros((4, 4, 3), dtype=torch.uint8)])
def test_normalize_input_refuses_float_or_unbatched_images(bad):
    with pytest.raises(ValueError, match="uint8"):
        normalize_input(bad)


def test_loading_a_model_file_leaves_torchs_compiler_unimported():
    """Start-up: building the network to load into must not run fillers that import torch._dynamo (a Gaussian
    filler on the "meta" device does)."""
    code = ("import sys\n"
            "from sphereapp.core.vision.catalog import default_model_path\n"
            "from sphereapp.core.vision.modelfile import load_embedder\n"
            "model, info = load_embedder(default_model_path())\n"
            "assert info.architecture == 'sphereface20'\n"
            "assert 'torch._dynamo' not in sys.modules, 'loading the model imported torch._dynamo'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
