"""`sphereapp-train eval pairs|lfw` end to end on a few real LFW pairs (skipped without the shared data)."""

import json

import pytest

from training.cli import main
from training.evaluation.lfw import read_lfw_pairs
from training.lfw_probe import default_cache_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_eval_pairs_csv_writes_report(shared_data, tmp_path, untrained_model_file):
    pairs = read_lfw_pairs(shared_data / "lfw" / "pairs.txt")
    chosen = [i for i in range(len(pairs.same)) if i % 600 in (0, 1, 300, 301)][:20]  # 10 same, 10 different
    rows = ["path1,path2,same"] + [f"{pairs.pairs[i][0]},{pairs.pairs[i][1]},{int(pairs.same[i])}" for i in chosen]
    csv = tmp_path / "pairs.csv"
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "report.json"
    assert main(["eval", "pairs", "--pairs", str(csv), "--weights", str(untrained_model_file),
                 "--json", str(out), "--device", "cpu"]) == 0
    report = json.loads(out.read_text())
    assert report["n_pairs"] == 20 and 0.0 <= report["accuracy"] <= 1.0
    assert set(report["tar_at_far"]) == {"0.001", "0.01"}
    assert {"std", "auc", "eer", "threshold"} <= set(report)
    assert default_cache_path(csv, "pairs").is_file(), "aligned crops are cached for the next run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.csv", "report.json"], "nothing beside the data"


def test_eval_rejects_missing_weights(shared_data, tmp_path, capsys):
    code = main(["eval", "lfw", "--lfw", str(shared_data / "lfw"), "--weights", str(tmp_path / "none.safetensors"),
                 "--cache", str(tmp_path / "c.npy")])
    assert code == 2 and "none.safetensors" in capsys.readouterr().err


def test_eval_several_weights_on_the_same_pairs(shared_data, tmp_path, untrained_model_file, capsys):
    pairs = read_lfw_pairs(shared_data / "lfw" / "pairs.txt")
    chosen = [i for i in range(len(pairs.same)) if i % 600 in (0, 300)][:10]  # 5 same, 5 different
    csv = tmp_path / "pairs.csv"
    csv.write_text("\n".join(["path1,path2,same"] + [f"{pairs.pairs[i][0]},{pairs.pairs[i][1]},{int(pairs.same[i])}"
                                                     for i in chosen]) + "\n")
    out, plot = tmp_path / "report.json", tmp_path / "roc.png"
    args = ["eval", "pairs", "--pairs", str(csv), "--weights", str(untrained_model_file), str(untrained_model_file),
            "--json", str(out), "--device", "cpu"]
    try:
        import matplotlib  # noqa: F401
        args += ["--plot", str(plot)]
    except ImportError:
        plot = None
    assert main(args) == 0
    models = json.loads(out.read_text())["models"]
    assert [m["weights"] for m in models] == [str(untrained_model_file)] * 2 and models[0] == models[1]
    assert capsys.readouterr().out.count("accuracy") == 2
    assert plot is None or plot.is_file()
    assert main(["eval", "pairs", "--pairs", str(csv), "--weights", str(untrained_model_file),
                 str(tmp_path / "none.safetensors")]) == 2  # the missing second file stops it before any scoring
    assert "none.safetensors" in capsys.readouterr().err
