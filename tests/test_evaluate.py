import json
import re

import pytest
import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from cgan import load_generator
from cgan.classifier import accuracy, load_classifier
from cgan.evaluate import Evaluator, covered, k_nearest_radii, main, precision_recall, real_sample


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


def test_precision_and_recall_use_each_points_third_nearest_neighbour():
    # Real points 3 apart on a line: an end point's third neighbour is 9 away, its first 3. A fake 4 beyond the end
    # lies inside that point's ball at k = 3 and outside at k = 1.
    real = torch.zeros(10, 2)
    real[:, 0] = torch.arange(10) * 3.0
    fake = torch.cat([torch.tensor([[-4.0, 0.0]]), real[2:6]])  # and four fakes on real points
    assert precision_recall(real, fake)[0] == 1.0
    assert precision_recall(real, fake, k=1)[0] == pytest.approx(0.8)


def test_a_far_away_set_has_neither():
    real = torch.randn(500, 16)
    assert precision_recall(real, real + 100) == (0.0, 0.0)


def test_shipped_classifier_reads_the_test_set(test_set):
    images, labels = test_set
    assert accuracy(load_classifier(), images[:3000], labels[:3000]) >= 0.99


def test_k_nearest_radii_and_coverage_are_the_brute_force_ones_across_batches_at_full_precision():
    rng = torch.Generator().manual_seed(0)
    support = torch.randn(2300, 4, dtype=torch.float64, generator=rng)  # three batches of 1,000, the last one short
    queries = torch.randn(1500, 4, dtype=torch.float64, generator=rng)
    radii = k_nearest_radii(support, 3)
    assert radii.dtype == torch.float64  # float32 radii would move points on the balls' edges in or out
    assert torch.allclose(radii, torch.cdist(support, support).kthvalue(4, dim=1).values, rtol=1e-12, atol=0)
    inside = covered(queries, support, radii)
    assert inside.dtype == torch.bool  # a mask, to index the queries with
    assert torch.equal(inside, (torch.cdist(queries, support) <= radii[None, :]).any(dim=1))
    assert 0 < inside.sum() < len(queries)


def test_a_query_on_the_edge_of_a_ball_is_covered():
    support = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # each point's nearest other point is 1 away
    radii = k_nearest_radii(support, 1)
    assert radii.tolist() == [1.0] * 4
    # 4 is exactly 1 from 3 (the ball is closed, as in Kynkaanniemi et al.); 4.5 is outside every ball.
    assert covered(torch.tensor([[4.0], [4.5], [-0.5]]), support, radii).tolist() == [True, False, True]


def test_the_real_floor_draws_n_distinct_training_digits_of_each_digit():
    labels = torch.arange(10).repeat(30)
    images = torch.arange(300)[:, None, None].expand(300, 28, 28)  # each image holds its own index
    picked, picked_labels = real_sample(images, labels, 7, seed=3)
    assert torch.bincount(picked_labels, minlength=10).tolist() == [7] * 10
    index = picked[:, 0, 0]
    assert (labels[index] == picked_labels).all() and len(index.unique()) == 70  # each is its own label's, none twice
    assert torch.equal(real_sample(images, labels, 7, seed=3)[0], picked)
    assert not torch.equal(real_sample(images, labels, 7, seed=4)[0], picked)


@pytest.mark.slow
def test_another_noise_scale_is_measured_and_reported_but_not_saved_over_the_model(capsys, data_dir, tmp_path):
    main(["--n-per-digit", "10", "--json", "--no-c2st", "--data-dir", str(data_dir)])
    plain = json.loads(capsys.readouterr().out)
    main(["--n-per-digit", "10", "--json", "--no-c2st", "--noise-scale", "1.5", "--data-dir", str(data_dir)])
    wide = json.loads(capsys.readouterr().out)
    assert (plain["noise_scale"], wide["noise_scale"]) == (load_generator().noise_scale, 1.5)  # its own, then 1.5
    assert wide["model"]["fd"] > plain["model"]["fd"]  # a wider noise draws off the digits' distribution
    assert wide["real"] == plain["real"]
    main(["--n-per-digit", "10", "--no-c2st", "--noise-scale", "1.5", "--data-dir", str(data_dir)])
    assert "noise scale 1.5" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--n-per-digit", "10", "--noise-scale", "1.5", "--save"])
    assert "--save records the model as it is saved" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="noise_scale must be a number 0.3-1.5, got 0.0"):
        main(["--n-per-digit", "10", "--no-c2st", "--noise-scale", "0", "--data-dir", str(data_dir)])


def test_a_model_that_does_not_exist_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit, match="does not exist"):
        main(["--model", str(tmp_path / "missing"), "--n-per-digit", "10"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error():
    with pytest.raises(SystemExit, match="no CUDA GPU is available"):
        main(["--device", "cuda", "--n-per-digit", "10"])


# --- the evaluator's numbers, through Evaluator itself ----------------------------------------------------------------

class KnownFeatures(torch.nn.Module):
    """A stand-in classifier whose 'images' are already 12-d feature vectors: features(x) = x, and its head reads
    the first ten as the logits of the digits."""

    def features(self, x):
        return x.float()

    def head(self, features):
        return features[:, :10]


def test_accuracy_counts_the_digits_read_as_asked_on_a_known_mix(test_set):
    images, labels = test_set
    classifier = load_classifier()
    read = classifier.predict(images[:2000])
    right = (read == labels[:2000]).nonzero().squeeze(1)[:1000]  # 1,000 digits the classifier reads right
    images, labels = images[right], labels[right].clone()
    wrong = torch.arange(0, 1000, 10)  # every tenth asked for as the next digit: 100 wrong of 1,000
    labels[wrong] = (labels[wrong] + 1) % 10
    scores = Evaluator(classifier, *test_set).score(images, labels)
    assert scores["accuracy"] == pytest.approx(0.9)
    for digit in range(10):
        asked = labels == digit
        expected = 1 - (asked[wrong].sum() / asked.sum()).item()
        assert scores["accuracy_per_digit"][digit] == pytest.approx(expected)
    assert scores["accuracy_min"] == pytest.approx(min(scores["accuracy_per_digit"]))


def test_the_evaluator_reads_digits_in_the_cpus_fast_layout_with_the_same_features_to_float_rounding(test_set):
    images, labels = test_set[0][:500], test_set[1][:500]
    with torch.inference_mode():
        plain = load_classifier().features(images)
    evaluator = Evaluator(load_classifier(), images, labels)
    assert evaluator.classifier.body[1][0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(evaluator.test_features, plain, rtol=1e-4, atol=1e-4)


def test_per_digit_frechet_distance_precision_and_recall_through_the_evaluator():
    torch.manual_seed(0)
    real = torch.randn(4000, 12, dtype=torch.float64)
    labels = torch.arange(10).repeat(400)
    evaluator = Evaluator(KnownFeatures(), real, labels)
    shift = torch.zeros(10, 12, dtype=torch.float64)
    shift[3, 0], shift[7, 1] = 2.0, 3.0  # digit 3 moved by 2, digit 7 by 3, the rest exactly the real features
    scores = evaluator.score(real + shift[labels], labels)
    everywhere = evaluator.score(real + shift[3], labels)  # every digit moved by 2: the overall distance is 4
    assert everywhere["fd"] == pytest.approx(4.0, rel=1e-3) and evaluator.score(real, labels)["fd"] < 1e-3
    each = scores["fd_per_digit_each"]
    assert each[3] == pytest.approx(4.0, rel=1e-3) and each[7] == pytest.approx(9.0, rel=1e-3)
    assert all(abs(each[d]) < 1e-3 for d in range(10) if d not in (3, 7))
    assert scores["fd_per_digit"] == pytest.approx(13.0 / 10, rel=1e-3)
    same = evaluator.score(real.clone(), labels)
    assert (same["precision"], same["recall"]) == (1.0, 1.0)
    collapsed = evaluator.score(real[:1].repeat(4000, 1) + 1e-4 * torch.randn(4000, 12, dtype=torch.float64), labels)
    assert collapsed["recall"] < 0.01


def test_the_shipped_model_scores_as_its_evaluation_json_says_on_a_small_sample(test_set):
    # 200 samples per digit against the 1,000 of the recorded evaluation: within a few sampling errors.
    from cgan.hub import BUNDLED_GENERATOR
    recorded = json.loads((BUNDLED_GENERATOR / "evaluation.json").read_text())["model"]
    evaluator = Evaluator(load_classifier(), *test_set)

    def close(scores):
        return (abs(scores["accuracy"] - recorded["accuracy"]) <= 0.01
                and abs(scores["precision"] - recorded["precision"]) <= 0.04
                and abs(scores["recall"] - recorded["recall"]) <= 0.06
                and scores["fd"] <= 3 * recorded["fd"] + 0.2)

    assert close(evaluator.score_generator(load_generator(), 200, seed=0))
    from cgan import ConditionalGenerator
    untrained = ConditionalGenerator("dcgan", "coverage", 255)
    assert not close(evaluator.score_generator(untrained, 200, seed=0))


def test_a_generators_score_is_the_same_for_the_same_seed_and_moves_with_another(test_set):
    images, labels = test_set
    evaluator, generator = Evaluator(load_classifier(), images[:1000], labels[:1000]), load_generator()
    first = evaluator.score_generator(generator, 20, seed=4)
    assert evaluator.score_generator(generator, 20, seed=4) == first
    assert evaluator.score_generator(generator, 20, seed=5)["fd"] != first["fd"]


# --- the two-sample test and the pixel histogram ----------------------------------------------------------------------

def test_the_pixel_histogram_distance_on_known_cases():
    from cgan.two_sample import pixel_tv
    zeros, full = torch.zeros(4, 28, 28, dtype=torch.uint8), torch.full((4, 28, 28), 255, dtype=torch.uint8)
    assert pixel_tv(zeros, zeros) == 0 and pixel_tv(zeros, full) == 1
    half = zeros.clone()
    half[:2] = 255
    assert pixel_tv(half, zeros) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def real_halves(test_set):
    images, labels = test_set
    return (images[:2000], labels[:2000]), (images[2000:4000], labels[2000:4000])


@pytest.mark.slow
def test_c2st_cannot_tell_two_halves_of_the_real_digits_apart(real_halves):
    from cgan.two_sample import c2st
    (a, la), (b, lb) = real_halves
    accuracy, epochs = c2st(a, la, b, lb)
    assert 0.4 < accuracy < 0.6 and epochs >= 10  # no tell to find, yet the critic had its ten epochs to look


def test_c2st_trains_its_critic_at_least_min_epochs_before_it_may_stop(real_halves):
    # A faint tell takes the critic a few epochs to find: stopped while still at chance, it called a model
    # indistinguishable that it told apart at 0.60 once trained on.
    from cgan.two_sample import c2st
    (a, la), (b, lb) = real_halves
    assert c2st(a[:600], la[:600], b[:600], lb[:600], min_epochs=7, patience=1)[1] >= 7
    assert c2st(a[:600], la[:600], b[:600], lb[:600], min_epochs=0, patience=1)[1] < 7


@pytest.mark.slow
@pytest.mark.parametrize("change", ["shift", "noise"])
def test_c2st_tells_real_digits_from_visibly_changed_ones(real_halves, change):
    from cgan.two_sample import c2st
    (a, la), (b, lb) = real_halves
    if change == "shift":  # two pixels to the right
        changed = torch.roll(a, shifts=2, dims=2)
    else:  # faint noise on every pixel
        noise = torch.randint(0, 24, a.shape, generator=torch.Generator().manual_seed(0), dtype=torch.int16)
        changed = (a.to(torch.int16) + noise).clamp(0, 255).to(torch.uint8)
    assert c2st(changed, la, b, lb)[0] > 0.8


def test_c2st_is_the_same_for_the_same_seed_and_leaves_the_global_rng_alone(real_halves):
    from cgan.two_sample import c2st
    (a, la), (b, lb) = real_halves
    state = torch.get_rng_state()
    first = c2st(a[:600], la[:600], b[:600], lb[:600], seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert c2st(a[:600], la[:600], b[:600], lb[:600], seed=3) == first


@pytest.mark.slow
def test_json_output_has_every_number_and_the_two_sample_test_unless_skipped(capsys, data_dir):
    main(["--n-per-digit", "20", "--json", "--data-dir", str(data_dir)])
    result = json.loads(capsys.readouterr().out)
    for side in ("model", "real"):
        assert 0 <= result[side]["c2st"] <= 1 and 0 <= result[side]["pixel_tv"] <= 1
    main(["--n-per-digit", "20", "--json", "--no-c2st", "--data-dir", str(data_dir)])
    result = json.loads(capsys.readouterr().out)
    assert "c2st" not in result["model"]
    assert result["n_per_digit"] == 20 and (result["arch"], result["size"]) == ("dcgan", "small")  # the bundled one
    for side in ("model", "real"):
        scores = result[side]
        assert {"accuracy", "accuracy_min", "fd", "fd_per_digit", "precision", "recall"} <= scores.keys()
        assert len(scores["accuracy_per_digit"]) == 10 and len(scores["fd_per_digit_each"]) == 10
        assert 0 <= scores["accuracy"] <= 1 and 0 <= scores["recall"] <= 1
    assert result["real"]["accuracy"] >= 0.95  # the floor is real digits of each asked-for digit


class Replay(torch.nn.Module):
    """A stand-in generator that draws given digits: the ones of each label, in turn (for the CAS on known sets)."""

    z_dim, noise_scale = 4, 1.0

    def __init__(self, images, labels):
        super().__init__()
        self.images, self.labels, self.used = images, labels, torch.zeros(10, dtype=torch.long)

    def draw(self, z, labels):
        out = []
        for label in labels.tolist():
            pool = self.images[self.labels == label]
            out.append(pool[self.used[label] % len(pool)])
            self.used[label] += 1
        return torch.stack(out).numpy()


@pytest.mark.slow
def test_the_cas_trains_on_the_generators_digits_and_its_ceiling_on_real_ones(test_set, data_dir):
    from cgan.data import load_mnist
    from cgan.evaluate import classification_accuracy_score
    train_images, train_labels = load_mnist(True, data_dir)
    test_images, test_labels = test_set
    real = Replay(train_images[:3000], train_labels[:3000])
    # Digits drawn with their labels shuffled: a classifier trained on them learns nothing of real digits.
    shuffled = train_labels[:3000][torch.randperm(3000, generator=torch.Generator().manual_seed(1))]
    scrambled = Replay(train_images[:3000], shuffled)
    kwargs = dict(test_images=test_images[:2000], test_labels=test_labels[:2000], n=3000, epochs=1)
    cas, ceiling = classification_accuracy_score(real, train_images, train_labels, **kwargs)
    assert cas > 0.8 and ceiling > 0.8 and abs(cas - ceiling) < 0.05  # real digits drawn: as good as real digits
    cas_scrambled, ceiling_again = classification_accuracy_score(scrambled, train_images, train_labels, **kwargs)
    assert cas_scrambled < 0.3 and ceiling_again == ceiling  # the ceiling is the real digits' alone, seeded


def test_the_cas_says_how_long_it_will_take_before_it_starts_and_shows_its_progress(capsys, data_dir, monkeypatch):
    import cgan.evaluate
    monkeypatch.setattr(cgan.evaluate, "CAS_DIGITS", 1280)  # 10 steps of 128 digits a classifier
    monkeypatch.setattr(cgan.evaluate, "CAS_EPOCHS", 1)
    main(["--n-per-digit", "10", "--json", "--no-c2st", "--cas", "--data-dir", str(data_dir)])
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # the progress goes to stderr: stdout is the JSON alone
    assert result["cas_training"] == {"digits": 1280, "epochs": 1, "width": cgan.evaluate.CAS_WIDTH, "seed": 0}
    assert 0 <= result["model"]["cas"] <= 1 and 0 <= result["real"]["cas"] <= 1
    estimate = re.search(r"the CAS trains 2 classifiers, 1 epoch of 1,280 digits each: 20 steps at \d+ ms a step "
                         r"here, about \d+ seconds\n", captured.err)
    bar = re.search(r"CAS: 100%.*20/20", captured.err)
    assert estimate and bar and estimate.start() < bar.start()
