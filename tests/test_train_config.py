"""Training config: TOML loading, `--set` overrides, one-line errors, the shipped configs, the LR schedule."""

from pathlib import Path

import pytest

from sphereapp.core.errors import InputError
from training.config import ScheduleConfig, TrainConfig, load_config
from training.fit import lr_factor

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_load(path):
    config = load_config(path)
    assert isinstance(config, TrainConfig)
    assert config.iterations > 0 and config.data.batch_size > 0


def test_paper_config_matches_the_paper():
    config = load_config(Path(CONFIGS[0]).parent / "casia_sphereface20_asoftmax.toml")
    assert (config.model.backbone, config.head.name, config.head.params["m"]) == ("sphereface20", "asoftmax", 4)
    assert (config.iterations, config.data.batch_size, config.schedule.milestones) == (28000, 256, [16000, 24000])
    assert (config.optim.lr, config.optim.momentum, config.optim.weight_decay) == (0.1, 0.9, 5e-4)


def test_values_defaults_and_int_to_float(tmp_path):
    text = 'iterations = 10\n[optim]\nlr = 1\n[head]\nname = "cosface"\nparams = {s = 20}\n'
    config = load_config(write(tmp_path, text))
    assert config.iterations == 10
    assert config.optim.lr == 1.0 and isinstance(config.optim.lr, float)
    assert config.optim.momentum == 0.9  # default kept
    assert config.head.name == "cosface" and config.head.params == {"s": 20}


def test_overrides_parse_toml_values_and_plain_strings(tmp_path):
    path = write(tmp_path, "[data]\nbatch_size = 256\n")
    config = load_config(path, ["data.batch_size=64", "model.backbone=sphereface4", "head.params.m=2",
                                "schedule.milestones=[5, 9]", "data.balanced=true"])
    assert config.data.batch_size == 64
    assert config.model.backbone == "sphereface4"
    assert config.head.params == {"m": 2}
    assert config.schedule.milestones == [5, 9]
    assert config.data.balanced is True


@pytest.mark.parametrize("text, overrides, key", [
    ("itertions = 5\n", [], "itertions"),
    ("[data]\nbatchsize = 5\n", [], "data.batchsize"),
    ("", ["optim.learning_rate=0.1"], "optim.learning_rate"),
])
def test_unknown_key_is_one_line_naming_it(tmp_path, text, overrides, key):
    with pytest.raises(InputError) as error:
        load_config(write(tmp_path, text), overrides)
    message = str(error.value)
    assert f"'{key}'" in message and "\n" not in message


@pytest.mark.parametrize("text, fragment", [
    ('iterations = "many"\n', "iterations"),
    ("[data]\nbatch_size = 1.5\n", "data.batch_size"),
    ("[optim]\nlr = true\n", "optim.lr"),
    ("data = 3\n", "data"),
    ('[schedule]\nkind = "linear"\n', "schedule.kind"),
    ("[data]\nbalanced = true\nbatch_size = 10\nsamples_per_class = 4\n", "samples_per_class"),
    ("iterations = [\n", "not valid TOML"),
])
def test_bad_values_are_rejected(tmp_path, text, fragment):
    with pytest.raises(InputError, match=fragment.replace(".", r"\.")):
        load_config(write(tmp_path, text))


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(InputError, match="key.sub=value"):
        load_config(write(tmp_path, ""), ["iterations"])


def test_a_delta_config_merges_sections_over_its_base_and_replaces_values(tmp_path):
    (tmp_path / "base.toml").write_text(
        'iterations = 10\n[head]\nname = "sphereface2"\nparams = { alpha = 0.7, lw = 10.0 }\n'
        '[optim]\nlr = 0.05\nmomentum = 0.5\n[augment]\nflip_p = 0.25\n', encoding="utf-8")
    (tmp_path / "deltas").mkdir()
    (tmp_path / "deltas" / "middle.toml").write_text('base = "../base.toml"\n[optim]\nlr = 0.01\n', encoding="utf-8")
    delta = tmp_path / "deltas" / "delta.toml"
    delta.write_text('base = "middle.toml"\niterations = 20\n[head]\nname = "asoftmax"\nparams = { m = 2 }\n',
                     encoding="utf-8")
    config = load_config(delta, ["augment.flip_p=0.75"])
    assert config.iterations == 20 and (config.optim.lr, config.optim.momentum) == (0.01, 0.5)
    assert config.head.name == "asoftmax" and config.head.params == {"m": 2}  # params replaced whole, not merged
    assert config.augment.flip_p == 0.75


def test_a_missing_or_looping_base_is_one_line(tmp_path):
    with pytest.raises(InputError, match="nowhere.toml' does not exist"):
        load_config(write(tmp_path, 'base = "nowhere.toml"\n'))
    (tmp_path / "a.toml").write_text('base = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('base = "a.toml"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"loop \(a.toml -> b.toml -> a.toml\)"):
        load_config(tmp_path / "a.toml")
    with pytest.raises(InputError, match="base must be the name"):
        load_config(write(tmp_path, "base = 3\n"))


def test_lr_schedule_warmup_step_and_cosine():
    step = ScheduleConfig(kind="step", milestones=[10, 20], gamma=0.1, warmup_iters=4)
    assert [lr_factor(step, 30, i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(step, 30, 9) == 1.0
    assert lr_factor(step, 30, 10) == pytest.approx(0.1)
    assert lr_factor(step, 30, 29) == pytest.approx(0.01)
    cosine = ScheduleConfig(kind="cosine", warmup_iters=0, min_lr_ratio=0.1)
    assert lr_factor(cosine, 100, 0) == pytest.approx(1.0)
    assert lr_factor(cosine, 100, 50) == pytest.approx(0.55)
    values = [lr_factor(cosine, 100, i) for i in range(100)]
    assert all(a >= b for a, b in zip(values, values[1:])) and values[-1] > 0.1
