import json

import pytest
import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from cgan.classifier import accuracy
from cgan import load_generator
from cgan.evaluate import load_classifier, main, precision_recall


class Identity(torch.nn.Module):
    """Feature extractor for known cases: the 'images' are already feature vectors."""

    num_features = 8

    def forward(self, x):
        return x


def fd(real, fake):
    metric = FrechetInceptionDistance(feature=Identity())
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return metric.compute().item()


def test_a_set_against_itself_has_distance_about_zero():
    x = torch.randn(2000, 8, dtype=torch.float64)
    assert abs(fd(x, x)) < 1e-6


def test_a_shifted_set_has_the_squared_shift_as_distance():
    x = torch.randn(4000, 8, dtype=torch.float64)
    shift = torch.zeros(8, dtype=torch.float64)
    shift[0], shift[3] = 3.0, 4.0  # |shift|^2 = 25, same covariance
    assert fd(x, x + shift) == pytest.approx(25.0, rel=1e-6)


def test_identical_sets_have_precision_and_recall_one():
    x = torch.randn(500, 16)
    assert precision_recall(x, x.clone()) == (1.0, 1.0)


def test_a_collapsed_set_has_precision_but_no_recall():
    real = torch.randn(1000, 16)
    collapsed = real[:1].repeat(1000, 1) + 1e-4 * torch.randn(1000, 16)
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.01


def test_a_far_away_set_has_neither():
    real = torch.randn(500, 16)
    assert precision_recall(real, real + 100) == (0.0, 0.0)


def test_shipped_classifier_reads_the_test_set(test_set):
    images, labels = test_set
    assert accuracy(load_classifier(), images[:3000], labels[:3000]) >= 0.99


def test_json_output_has_every_number(capsys, data_dir):
    main(["--n-per-digit", "20", "--json", "--data-dir", str(data_dir)])
    result = json.loads(capsys.readouterr().out)
    assert result["n_per_digit"] == 20 and (result["arch"], result["size"]) == ("dcgan", "small")  # the bundled one
    for side in ("model", "real"):
        scores = result[side]
        assert {"accuracy", "accuracy_min", "fd", "fd_per_digit", "precision", "recall"} <= scores.keys()
        assert len(scores["accuracy_per_digit"]) == 10 and len(scores["fd_per_digit_each"]) == 10
        assert 0 <= scores["accuracy"] <= 1 and 0 <= scores["recall"] <= 1


def test_another_noise_scale_is_measured_and_reported_but_not_saved_over_the_model(capsys, data_dir, tmp_path):
    main(["--n-per-digit", "10", "--json", "--data-dir", str(data_dir)])
    plain = json.loads(capsys.readouterr().out)
    main(["--n-per-digit", "10", "--json", "--noise-scale", "3", "--data-dir", str(data_dir)])
    wide = json.loads(capsys.readouterr().out)
    assert (plain["noise_scale"], wide["noise_scale"]) == (load_generator().noise_scale, 3.0)  # its own, then 3
    assert wide["model"]["fd"] > plain["model"]["fd"]  # three times the noise draws off the digits' distribution
    assert wide["real"] == plain["real"]
    main(["--n-per-digit", "10", "--noise-scale", "3", "--data-dir", str(data_dir)])
    assert "noise scale 3" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--n-per-digit", "10", "--noise-scale", "3", "--save"])
    assert "--save records the model as it is saved" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="noise_scale must be a number above 0"):
        main(["--n-per-digit", "10", "--noise-scale", "0", "--data-dir", str(data_dir)])


def test_a_model_that_does_not_exist_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit, match="does not exist"):
        main(["--model", str(tmp_path / "missing"), "--n-per-digit", "10"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error():
    with pytest.raises(SystemExit, match="no CUDA GPU is available"):
        main(["--device", "cuda", "--n-per-digit", "10"])
