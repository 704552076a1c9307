import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cgan import ConditionalGenerator, load_generator
from cgan.data import to_uint8
from cgan.hub import BUNDLED_GENERATOR
from cgan.models import ConditionalBatchNorm2d, build_networks


@pytest.mark.parametrize("arch, size", [("dcgan", "small"), ("dcgan", "large"), ("seed", "small")])
def test_networks_map_noise_and_labels_to_digit_images(arch, size):
    G, D = build_networks(arch, "tanh" if arch == "seed" else "coverage", size)
    z = torch.randn(6, G.z_dim)
    labels = torch.arange(6)
    fake = G(z, labels)
    assert fake.shape == (6, 1, 28, 28)
    assert fake.min() >= -1 and fake.max() <= 1
    scores = D(fake, labels)
    assert scores.shape == ((6, 10) if arch == "seed" else (6,))


def test_conditional_batchnorm_gives_each_digit_its_own_scale_and_shift():
    norm = ConditionalBatchNorm2d(3).train()
    with torch.no_grad():
        norm.scale.copy_(torch.arange(1.0, 31.0).view(10, 3))
        norm.shift.copy_(-torch.arange(30.0).view(10, 3))
    x = torch.randn(8, 3, 5, 5)
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 9])
    out = norm(x, torch.nn.functional.one_hot(labels, 10).float())
    normalised = torch.nn.functional.batch_norm(x, None, None, training=True)
    expected = normalised * norm.scale[labels][:, :, None, None] + norm.shift[labels][:, :, None, None]
    torch.testing.assert_close(out, expected)


def test_the_coverage_output_is_the_share_of_each_pixel_its_stroke_covers():
    G = build_networks("dcgan", "coverage", "small")[0].eval()
    with torch.no_grad():
        G.to_pixels.weight.zero_()
        # to_pixels' channel c is sub-pixel (c // 8, c % 8) of each 8x8 block, which is 2x2 pixels drawn at 4x: ink in
        # sub-columns 0-2 (past the clamp), background in the rest. The left pixel of each pair is 3/4 ink.
        G.to_pixels.bias.copy_(torch.tensor([1.5 if c % 8 < 3 else -1.5 for c in range(64)]))
    out = G(torch.randn(2, G.z_dim), torch.tensor([1, 7]))
    assert out.shape == (2, 1, 28, 28)
    torch.testing.assert_close(out[..., 0::2], torch.full((2, 1, 28, 14), -1 + 2 * 3 / 4))
    torch.testing.assert_close(out[..., 1::2], torch.full((2, 1, 28, 14), -1.0))


def test_the_large_dcgan_is_wider_and_its_discriminator_deeper():
    (small_g, small_d), (large_g, large_d) = (build_networks("dcgan", "coverage", size) for size in ("small", "large"))
    assert (small_g.channels, large_g.channels) == (32, 64)

    def convs(d):
        return sum(isinstance(m, torch.nn.Conv2d) for m in d.modules())
    assert (convs(small_d), convs(large_d)) == (2, 4)
    assert convs(build_networks("dcgan", "coverage", "small", deep_d=True)[1]) == 4  # the deeper D with the small G
    assert convs(build_networks("dcgan", "coverage", "large", deep_d=False)[1]) == 2


def test_a_g_with_a_fine_stage_draws_its_pixels_from_features_at_28x28():
    G = build_networks("dcgan", "coverage", "small", g_fine=16)[0].eval()
    seen = {}
    G.norm2.register_forward_hook(lambda module, args, out: seen.update(fine=out.shape))  # None: output kept
    out = G(torch.randn(3, G.z_dim), torch.tensor([0, 4, 9]))
    assert out.shape == (3, 1, 28, 28) and out.min() >= -1 and out.max() <= 1
    assert seen["fine"] == (3, 16, 28, 28)  # 16 channels at full resolution, each pixel's own features
    assert (G.to_pixels.in_channels, G.to_pixels.out_channels) == (16, 16)  # each pixel's 4x4 sub-pixels
    # Without the coverage's sub-pixels, the stage draws each pixel directly.
    assert build_networks("dcgan", "clamp", g_fine=8)[0](torch.randn(2, 64), torch.tensor([1, 2])).shape == \
        (2, 1, 28, 28)
    with pytest.raises(ValueError, match="g_fine must be an integer 0-256, got 1.5"):
        build_networks("dcgan", "coverage", g_fine=1.5)
    with pytest.raises(ValueError, match="g_fine is for dcgan"):
        build_networks("seed", "tanh", g_fine=8)


def test_a_d_with_a_stem_looks_at_full_resolution_first_in_place_of_the_conv_at_14x14():
    # eval: spectral norm's weights stay put
    d = build_networks("dcgan", "coverage", "small", deep_d=True, d_stem=8)[1].eval()
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride) for c in convs] == [
        (1, 8, (1, 1)), (8 + 10, 32, (2, 2)), (32, 64, (2, 2)), (64, 64, (1, 1))]  # as many convs as the deep D's
    # The label planes are convolved once per label and added: the same as one conv over [stem(x); planes].
    x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 3, 7, 9])
    planes = torch.eye(10)[y][:, :, None, None].expand(-1, -1, 28, 28)
    with torch.no_grad():
        first = F.conv2d(torch.cat([d.stem(x), planes], 1), d.input_conv.weight, d.input_conv.bias, 2, 1)
        h = d.features(first)
        torch.testing.assert_close(d(x, y), d.linear(h).squeeze(1) + (d.embed(y) * h).sum(1))
    with pytest.raises(ValueError, match="d_stem must be an integer 0-256, got -1"):
        build_networks("dcgan", "coverage", d_stem=-1)
    with pytest.raises(ValueError, match="deep_d, d_size and d_stem are for dcgan"):
        build_networks("seed", "tanh", d_stem=8)


def test_unknown_arch_or_size_is_refused_by_name():
    with pytest.raises(ValueError, match="arch must be one of dcgan, seed, got 'big'"):
        ConditionalGenerator("big", "coverage", 255)
    with pytest.raises(ValueError, match="size must be one of small, large, got 'huge'"):
        ConditionalGenerator("dcgan", "coverage", 255, size="huge")
    with pytest.raises(ValueError, match="size must be one of small, large, got None"):  # a config.json's null
        ConditionalGenerator("dcgan", "coverage", 255, size=None)
    with pytest.raises(ValueError, match="the seed architecture comes in one size"):
        ConditionalGenerator("seed", "tanh", 255, size="large")


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return ConditionalGenerator("dcgan", "coverage", 255)


def test_generate_returns_uint8_digits(generator):
    images = generator.generate(digit=7, n=16, seed=42)
    assert isinstance(images, np.ndarray)
    assert images.shape == (16, 28, 28) and images.dtype == np.uint8
    assert generator.generate(7).shape == (1, 28, 28)  # one by default


def test_same_seed_gives_same_images(generator):
    assert np.array_equal(generator.generate(3, 8, seed=5), generator.generate(3, 8, seed=5))


def test_interleaved_calls_give_exactly_their_solo_results_whatever_the_global_rng(generator, monkeypatch):
    solo_a, solo_b = generator.generate(3, 8, seed=5), generator.generate(6, 4, seed=9)
    real_randn, interleaved = torch.randn, {}

    def randn(*args, **kwargs):  # call A's noise draw: first call B runs, and the global RNG is disturbed
        if not interleaved:
            interleaved["b"] = None
            interleaved["b"] = generator.generate(6, 4, seed=9)
            torch.manual_seed(123)
            real_randn(1000)
        return real_randn(*args, **kwargs)

    monkeypatch.setattr(torch, "randn", randn)
    state = torch.get_rng_state()
    assert np.array_equal(generator.generate(3, 8, seed=5), solo_a) and np.array_equal(interleaved["b"], solo_b)
    monkeypatch.setattr(torch, "randn", real_randn)
    torch.set_rng_state(state)
    generator.generate(3, 8, seed=5)
    assert torch.equal(torch.get_rng_state(), state)  # a seeded call leaves the global RNG as it was


def test_different_seeds_give_different_images(generator):
    assert not np.array_equal(generator.generate(3, 8, seed=5), generator.generate(3, 8, seed=6))


def test_without_a_seed_every_call_draws_a_fresh_one(generator):
    # 300 calls: from any pool of fewer than 300 seeds two of them would have to be the same.
    firsts = {tuple(generator.noise(1)[0].tolist()) for _ in range(300)}
    assert len(firsts) == 300


def test_large_n_is_generated_in_chunks_that_continue_one_noise_stream(generator):
    from cgan.generation import BATCH
    images = generator.generate(1, 2500, seed=1)
    assert images.shape == (2500, 28, 28) and BATCH == 1024
    first, second = images[:BATCH], images[BATCH:2 * BATCH]
    assert not np.array_equal(first, second)  # each chunk draws on, none starts the stream again
    # Chunk i is what the first (i + 1) * BATCH images of the same seed end with: one stream, cut into chunks.
    assert np.array_equal(second, generator.generate(1, 2 * BATCH, seed=1)[BATCH:])
    assert np.array_equal(first, generator.generate(1, BATCH, seed=1))
    assert len({img.tobytes() for img in images[::100]}) == 25


@pytest.mark.parametrize("kwargs, message", [
    ({"digit": 10}, "digit must be an integer 0-9, got 10"),
    ({"digit": "7"}, "digit must be an integer 0-9, got '7'"),
    ({"digit": 2.5}, "digit must be an integer 0-9, got 2.5"),
    ({"digit": True}, "digit must be an integer 0-9, got True"),
    ({"digit": 1, "n": 0}, "n must be an integer 1-"),
    ({"digit": 1, "n": -3}, "n must be an integer 1-"),
    ({"digit": 1, "n": 2**31}, "n must be an integer 1-2147483647, got 2147483648"),
    ({"digit": 1, "seed": 2**32}, "seed must be an integer 0-4294967295, got 4294967296"),
    ({"digit": 1, "seed": -1}, "seed must be an integer 0-"),
    ({"digit": 1, "seed": "x"}, "seed must be an integer 0-"),
])
def test_bad_arguments_name_the_argument_and_the_allowed_values(generator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generator.generate(**kwargs)


def test_weights_of_another_size_or_architecture_are_refused_by_name(tmp_path):
    from cgan.hub import ModelFileError
    ConditionalGenerator("dcgan", "coverage", 255, "large").save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "size": "small"}))
    with pytest.raises(ModelFileError, match=r"model.safetensors does not match .*config.json: .*size mismatch"):
        load_generator(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "arch": "seed", "size": "small", "output": "tanh"}))
    with pytest.raises(ModelFileError, match=r"does not match .*(Missing|Unexpected) key"):
        load_generator(tmp_path)


def test_save_and_from_pretrained_round_trip(generator, tmp_path):
    generator.save_pretrained(tmp_path)
    assert {"config.json", "model.safetensors"} <= {p.name for p in tmp_path.iterdir()}
    loaded = ConditionalGenerator.from_pretrained(tmp_path, strict=True)
    assert loaded.arch == "dcgan"
    assert np.array_equal(loaded.generate(4, 8, seed=9), generator.generate(4, 8, seed=9))


def test_the_size_is_saved(tmp_path):
    ConditionalGenerator("dcgan", "coverage", 255, "large").save_pretrained(tmp_path / "large")
    assert load_generator(tmp_path / "large").size == "large"


def test_the_noise_scale_is_saved_and_scales_the_noise(generator, tmp_path):
    wide = ConditionalGenerator("dcgan", "coverage", 255, noise_scale=1.5)
    wide.net.load_state_dict(generator.net.state_dict())
    wide.save_pretrained(tmp_path / "wide")
    assert json.loads((tmp_path / "wide" / "config.json").read_text())["noise_scale"] == 1.5
    loaded = load_generator(tmp_path / "wide")
    assert loaded.noise_scale == 1.5
    z = torch.randn(8, generator.z_dim, generator=torch.Generator().manual_seed(9))  # what generate draws for seed 9
    with torch.no_grad():
        expected = to_uint8(generator.net(z * 1.5, torch.full((8,), 4)))
    assert np.array_equal(loaded.generate(4, 8, seed=9), expected.numpy())
    for bad in (0, -1.0, float("nan"), float("inf"), "1", True):
        with pytest.raises(ValueError, match="noise_scale must be a number 0.3-1.5"):
            ConditionalGenerator("dcgan", "coverage", 255, noise_scale=bad)


LEVELS = {252: 0.25, 253: 0.45, 254: 0.3}


def test_full_ink_is_drawn_at_the_learned_levels_in_their_shares_one_level_per_hand(generator, tmp_path):
    inked = ConditionalGenerator("dcgan", "coverage", 253, ink_levels=LEVELS)
    inked.net.load_state_dict(ConditionalGenerator("dcgan", "coverage", 255).net.state_dict())
    # The share of hands drawn at each level is the level's share, at any noise scale.
    for scale in (0.5, 1.0, 1.5):
        levels = inked.full_ink(inked.noise(20_000, seed=1, noise_scale=scale))
        shares = {int(level): float((levels == level).float().mean()) for level in levels.unique()}
        assert shares == pytest.approx(LEVELS, abs=0.015)
    # A digit's pixels are G's output at its hand's level: full ink at that level, the greys scaled with it.
    z = inked.noise(6, seed=2)
    with torch.no_grad():
        drawn = inked.net(z, torch.full((6,), 8))
    level = inked.full_ink(z)
    assert len(level.unique()) > 1
    assert np.array_equal(inked.generate(8, 6, seed=2), to_uint8(drawn, level).numpy())
    # One hand writes every digit at one level: row i of style_rows is hand i's level throughout.
    with torch.no_grad():
        drawn = inked.net(z.repeat_interleave(10, dim=0), torch.arange(10).repeat(6))
    expected = to_uint8(drawn, level.repeat_interleave(10)).reshape(6, 10, 28, 28)
    assert np.array_equal(inked.style_rows(6, seed=2), expected.numpy())
    # Saved in config.json and loaded back; a noise scale keeps them.
    inked.save_pretrained(tmp_path / "inked")
    assert json.loads((tmp_path / "inked" / "config.json").read_text())["ink_levels"] == {
        str(k): v for k, v in LEVELS.items()}
    loaded = load_generator(tmp_path / "inked")
    assert np.array_equal(loaded.generate(8, 6, seed=2), inked.generate(8, 6, seed=2))
    assert torch.equal(loaded.with_noise_scale(1.2).full_ink(z), level)
    # Without levels every digit's full ink is `ink`.
    assert generator.full_ink(z).item() == 255


@pytest.mark.parametrize("levels", [{}, {252: -1}, {300: 1}, {"x": 1}, [252, 253], {252: 0, 253: 0}, {252: "a"},
                                    {252: float("nan")}])
def test_bad_ink_levels_are_refused_by_name(levels):
    with pytest.raises(ValueError, match="ink_levels must map pixel values 1-255 to shares"):
        ConditionalGenerator("dcgan", "coverage", 255, ink_levels=levels)


def test_loader_prefers_argument_then_env_then_bundled(generator, tmp_path, monkeypatch):
    explicit, from_env = tmp_path / "explicit", tmp_path / "env"
    generator.save_pretrained(explicit)
    ConditionalGenerator("seed", "tanh", 255).save_pretrained(from_env)
    monkeypatch.setenv("CGAN_MODEL", str(from_env))
    assert load_generator(explicit).source == str(explicit)
    assert load_generator().arch == "seed"
    monkeypatch.delenv("CGAN_MODEL")
    assert load_generator().source == str(BUNDLED_GENERATOR)


def test_missing_local_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_generator(str(tmp_path / "nope"))


def test_shell_command_writes_a_grid_png_or_an_array(tmp_path, capsys):
    from PIL import Image

    from cgan.generate import main
    main(["--digit", "7", "--n", "10", "--seed", "42", "--out", str(tmp_path / "sevens.png")])
    with Image.open(tmp_path / "sevens.png") as grid:
        assert grid.format == "PNG" and grid.size == (2 * (8 * 30 + 2), 2 * (2 * 30 + 2))
    main(["--digit", "7", "--n", "10", "--seed", "42", "--out", str(tmp_path / "sevens.npy")])
    array = np.load(tmp_path / "sevens.npy")
    assert array.shape == (10, 28, 28) and array.dtype == np.uint8
    assert np.array_equal(array, load_generator().generate(7, 10, seed=42))


def test_shell_command_refuses_bad_input_with_a_message(tmp_path, capsys):
    from cgan.generate import main
    with pytest.raises(SystemExit, match="digit must be an integer 0-9, got 11"):
        main(["--digit", "11", "--out", str(tmp_path / "x.png")])
    with pytest.raises(SystemExit):
        main(["--digit", "1", "--out", str(tmp_path / "x.jpg")])
    assert "--out must end in .png or .npy" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_shell_command_steers_the_hands_as_the_library_does(tmp_path):
    from cgan.generate import main
    main(["--style-rows", "--n", "3", "--seed", "7", "--slant", "1.5", "--weight", "-1", "--out",
          str(tmp_path / "rows.npy")])
    assert np.array_equal(np.load(tmp_path / "rows.npy"), load_generator().style_rows(3, 7, slant=1.5, weight=-1))
    main(["--number", "42", "--seed", "7", "--weight", "2", "--out", str(tmp_path / "number.npy")])
    assert np.array_equal(np.load(tmp_path / "number.npy"), load_generator().write_number("42", 1, 7, weight=2))
    with pytest.raises(SystemExit, match=r"^error: weight must be a number -2 to 2 \(0: unchanged\), got 3.0$"):
        main(["--digit", "3", "--weight", "3", "--out", str(tmp_path / "x.png")])
    with pytest.raises(SystemExit):
        main(["--dataset", "10", "--slant", "1", "--out", str(tmp_path / "synth")])
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "synth").exists()
