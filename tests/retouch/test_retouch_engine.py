"""The retouch engine (`Retoucher`) against an independent, by-hand composition of the
low-level functions: read_photo -> predictor_input -> model.predict -> model.plan ->
apply_lut -> write_photo (and model.average for groups).

Models of the three families with random heads, so that every photo gets its own
parameters (curves for AdaInt and SepLUT), on small lossless photos: expected samples are
exact, not within a tolerance.
"""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from ppr10k.io import read_photo, write_photo
from ppr10k.io.metadata import read_metadata
from ppr10k.lut import apply_lut, identity_lut
from ppr10k.models import ModelConfig
from ppr10k.models.registry import create_model
from ppr10k.retouch import (
    DecodeSpec,
    GroupOptions,
    OutputOptions,
    PhotoJob,
    Retoucher,
    RunOptions,
    decode_photo,
    group_photos,
    predictor_input,
    render,
)
from ppr10k.retouch import engine as engine_module
from ppr10k.retouch.apply import apply_numba, apply_torch, ieee_float32

FAMILIES = ("lut3d", "adaint", "seplut")


def random_model(family: str, seed: int = 0) -> torch.nn.Module:
    """A small model whose parameters depend on the image (random head and LUTs)."""
    config = ModelConfig(family=family, backbone="tiny", width=4, lut_dim=9, n_luts=3,
                         **({"curve_dim": 9} if family == "seplut" else {}))
    model = create_model(config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("luts"):
                param.copy_(identity_lut(9) + 0.08 * torch.randn(param.shape, generator=gen))
            else:
                param.add_(0.2 * torch.randn(param.shape, generator=gen))
    return model.eval()


def photo_like(rng, h, w) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.2 + 0.6 * x, 0.3 + 0.5 * y, 0.5 + 0.3 * (x - y)], axis=-1)
    return np.clip(base + 0.08 * rng.standard_normal((h, w, 3)), 0, 1)


@pytest.fixture
def folder(tmp_path, rng):
    """8- and 16-bit PNG and TIFF photos of two sizes, one sideways (EXIF orientation 6)."""
    src = tmp_path / "in"
    src.mkdir()
    for i, (h, w) in enumerate([(40, 60), (40, 60), (50, 35), (40, 60)]):
        image = photo_like(rng, h, w)
        if i % 2:
            write_photo(src / f"p{i}.tif", np.rint(image * 65535).astype(np.uint16), None)
        else:
            write_photo(src / f"p{i}.png", np.rint(image * 255).astype(np.uint8), None)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.rint(photo_like(rng, 30, 44) * 255).astype(np.uint8)).save(
        src / "side.png", exif=exif.tobytes())
    return src


def by_hand_params(model, path) -> dict[str, torch.Tensor]:
    photo = read_photo(path)
    thumb = predictor_input(photo.pixels, photo.metadata.orientation, model.config.thumbnail)
    with torch.no_grad():
        return {k: v.float() for k, v in model.predict(thumb).items()}


def by_hand_apply(model, path, params, bits=None) -> np.ndarray:
    photo = read_photo(path)
    with torch.no_grad():
        plan = model.plan(params)[0]
    dtype = {8: np.uint8, 16: np.uint16}[bits or photo.bits]
    out = np.empty(photo.pixels.shape, dtype)
    curves = {} if plan.curves is None else {"curves": plan.curves}
    return apply_lut(photo.pixels, plan.lut, out=out, **curves)


def engine(model, **run) -> Retoucher:
    group = run.pop("group", None)
    output = run.pop("output", None)
    return Retoucher(model, output, group, RunOptions(device="cpu", progress=False, **run))


# ---------------------------------------------------------------- equality with by-hand


@pytest.mark.parametrize("family", FAMILIES)
def test_single_mode_equals_the_low_level_functions(tmp_path, folder, family):
    model = random_model(family)
    report = engine(model, workers=2).run([folder], tmp_path / "out")
    assert report.exit_code == 0 and len(report.by_status("done")) == 5
    for source in sorted(folder.iterdir()):
        expected = by_hand_apply(model, source, by_hand_params(model, source))
        got = read_photo(tmp_path / "out" / source.name).pixels
        np.testing.assert_array_equal(got, expected, err_msg=source.name)


def test_jpeg_output_equals_write_photo_of_the_by_hand_samples(tmp_path, folder):
    model = random_model("adaint", seed=3)
    engine(model, output=OutputOptions(fmt="jpg", quality=90)).run([folder], tmp_path / "out")
    source = folder / "p1.tif"
    expected = by_hand_apply(model, source, by_hand_params(model, source), bits=8)
    write_photo(tmp_path / "hand.jpg", expected, read_photo(source).metadata, quality=90)
    np.testing.assert_array_equal(read_photo(tmp_path / "out" / "p1.jpg").pixels,
                                  read_photo(tmp_path / "hand.jpg").pixels)


@pytest.mark.parametrize("family", FAMILIES)
def test_group_mode_equals_by_hand_average(tmp_path, rng, family):
    src = tmp_path / "ppr"
    src.mkdir()
    names = ["3_1", "3_2", "3_3", "8_1", "8_2"]
    for name in names:
        write_photo(src / f"{name}.png",
                    np.rint(photo_like(rng, 36, 48) * 65535).astype(np.uint16), None)
    model = random_model(family, seed=5)
    strength = 0.7
    report = engine(model, group=GroupOptions(True, "prefix", strength=strength),
                    workers=2).run([src], tmp_path / "out")
    assert report.exit_code == 0
    assert [[p.stem for p in g] for g in report.groups] == [names[:3], names[3:]]
    for members in (names[:3], names[3:]):
        params = [by_hand_params(model, src / f"{n}.png") for n in members]
        stacked = {k: torch.cat([p[k] for p in params]) for k in params[0]}
        with torch.no_grad():
            averaged = model.average(stacked, strength)
        for row, name in enumerate(members):
            mine = {k: v[row:row + 1] for k, v in averaged.items()}
            expected = by_hand_apply(model, src / f"{name}.png", mine)
            got = read_photo(tmp_path / "out" / f"{name}.png").pixels
            np.testing.assert_array_equal(got, expected, err_msg=name)
    result = {r.source.stem: r for r in report.results}
    assert result["3_1"].group == result["3_3"].group == 0 and result["8_2"].group == 1


# ---------------------------------------------------------------- decode once


def count_reads(monkeypatch) -> dict[str, int]:
    reads: dict[str, int] = {}
    real = engine_module.read_photo

    def counting(path, *args, **kwargs):
        reads[path.name] = reads.get(path.name, 0) + 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(engine_module, "read_photo", counting)
    monkeypatch.setattr(engine_module, "read_metadata", lambda *a, **k: pytest.fail(
        "a decoded photo's capture time comes from its decode"))
    return reads


@pytest.fixture
def timed(tmp_path, rng):
    """Six JPEG shots in two sessions (EXIF capture times)."""
    src = tmp_path / "timed"
    src.mkdir()
    start = dt.datetime(2024, 5, 1, 10, 0, 0)
    times = [start + dt.timedelta(seconds=s) for s in (0, 90, 120, 4000, 4100, 4150)]
    for i, when in enumerate(times):
        exif = Image.Exif()
        exif[0x8769] = {0x9003: when.strftime("%Y:%m:%d %H:%M:%S")}
        Image.fromarray(np.rint(photo_like(rng, 30, 40) * 255).astype(np.uint8)).save(
            src / f"IMG_{i}.jpg", exif=exif.tobytes(), quality=95)
    return src, times


def test_group_mode_decodes_each_photo_once_and_groups_by_decoded_time(tmp_path, timed,
                                                                       monkeypatch):
    src, times = timed
    model = random_model("lut3d", seed=1)
    reads = count_reads(monkeypatch)
    group = GroupOptions(True, "time", gap=600)
    report = engine(model, group=group, workers=2).run([src], tmp_path / "kept")
    assert report.exit_code == 0
    assert reads == {f"IMG_{i}.jpg": 1 for i in range(6)}
    paths = sorted(src.iterdir())
    expected = group_photos(paths, "time", times, 600)  # times given, not read
    assert [[p.name for p in g] for g in report.groups] == [[paths[i].name for i in g]
                                                             for g in expected]
    assert len(report.groups) == 2
    # no memory to keep samples: each photo is decoded again for the apply, same outputs
    reads.clear()
    engine(model, group=group, memory_budget=0).run([src], tmp_path / "redecoded")
    assert reads == {f"IMG_{i}.jpg": 2 for i in range(6)}
    for path in paths:
        assert ((tmp_path / "kept" / path.name).read_bytes()
                == (tmp_path / "redecoded" / path.name).read_bytes())


def test_prefix_groups_go_a_window_at_a_time_within_the_budget(tmp_path, rng, monkeypatch):
    """Groups known from names are done a few at a time: the budget holds one window's
    samples (8 photos here), so sixteen photos are each decoded once."""
    src = tmp_path / "ppr"
    src.mkdir()
    for g in range(1, 9):
        for i in (1, 2):
            write_photo(src / f"{g}_{i}.png",
                        np.rint(photo_like(rng, 20, 30) * 255).astype(np.uint8), None)
    assert engine_module._windows([[0, 1], [2, 3], [4, 5]], 3) == [[0, 1, 2, 3], [4, 5]]
    model = random_model("seplut", seed=8)
    reads = count_reads(monkeypatch)
    group = GroupOptions(True, "prefix")
    report = engine(model, group=group, memory_budget=8 * 20 * 30 * 3).run([src], tmp_path / "a")
    assert report.exit_code == 0 and len(report.groups) == 8
    assert set(reads.values()) == {1} and len(reads) == 16
    reads.clear()
    engine(model, group=group, memory_budget=0).run([src], tmp_path / "b")
    assert set(reads.values()) == {2}
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_single_mode_decodes_each_photo_once(tmp_path, folder, monkeypatch):
    reads = count_reads(monkeypatch)
    engine(random_model("seplut"), batch_size=3, workers=2).run([folder], tmp_path / "o")
    assert reads == {p.name: 1 for p in folder.iterdir()}


def test_failed_photo_in_time_group_is_placed_by_its_header(tmp_path, timed):
    src, _ = timed
    data = (src / "IMG_1.jpg").read_bytes()
    (src / "IMG_1.jpg").write_bytes(data[: len(data) // 2])  # truncated: no decode
    report = engine(random_model("lut3d"), group=GroupOptions(True, "time", gap=600)).run(
        [src], tmp_path / "out")
    assert report.exit_code == 1 and "truncated" in report.failed[0].reason
    assert read_metadata(src / "IMG_1.jpg", carried=False).capture_time is not None
    assert [len(g) for g in report.groups] == [3, 3]  # as today: grouped by its EXIF time


# ---------------------------------------------------------------- batches, backends


def test_batched_prediction_keeps_order_across_shapes(folder):
    model = random_model("adaint", seed=2)
    retoucher = engine(model, batch_size=8)
    paths = sorted(folder.iterdir())
    jobs = [PhotoJob(i, p, p) for i, p in enumerate(paths)]
    thumbs = [retoucher.decode(job).thumbnail for job in jobs]
    assert len({t.shape for t in thumbs}) == 3
    batched = retoucher.predict(thumbs)
    for path, params in zip(paths, batched, strict=True):
        alone = by_hand_params(model, path)
        for key in alone:
            torch.testing.assert_close(params[key], alone[key], atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("source", "bits"), [(np.uint8, 8), (np.uint8, 16), (np.uint16, 16),
                                               (np.uint16, 8), (np.float32, 16)])
def test_torch_backend_matches_numba_within_one_level(rng, family, source, bits):
    model = random_model(family, seed=4)
    image = photo_like(rng, 37, 53)
    if source == np.float32:
        pixels = image.astype(np.float32)
    else:
        pixels = np.rint(image * np.iinfo(source).max).astype(source)
    with torch.no_grad():
        plan = model.plan(model.predict(torch.from_numpy(image.astype(np.float32)).permute(
            2, 0, 1)[None]))[0]
    dtype = np.dtype(np.uint8 if bits == 8 else np.uint16)
    fast = apply_numba(pixels.copy(), plan, dtype)
    gpu_code = apply_torch(pixels, plan, dtype)
    tiled = apply_torch(pixels, plan, dtype, tile_pixels=200)  # 4 rows a tile
    assert gpu_code.dtype == dtype and gpu_code.shape == pixels.shape
    assert np.abs(gpu_code.astype(int) - fast.astype(int)).max() <= 1
    np.testing.assert_array_equal(tiled, gpu_code)


@pytest.mark.parametrize(("source", "bits"), [(np.uint8, 8), (np.uint16, 8), (np.uint8, 16),
                                               (np.uint16, 16)])
def test_torch_backend_rounds_to_the_nearest_level(rng, source, bits):
    """Identity LUT: the output is the input rescaled and rounded, a closed form."""
    from ppr10k.models.lut3d import ApplyPlan

    peak_in, peak_out = np.iinfo(source).max, (255 if bits == 8 else 65535)
    pixels = rng.integers(0, peak_in + 1, (23, 31, 3)).astype(source)
    pixels[0, :3] = [[0, 0, 0], [peak_in, peak_in, peak_in], [1, 2, 3]]
    dtype = np.dtype(np.uint8 if bits == 8 else np.uint16)
    got = apply_torch(pixels, ApplyPlan(identity_lut(17)), dtype)
    expected = np.floor(pixels / peak_in * peak_out + 0.5)
    np.testing.assert_array_equal(got, expected.astype(dtype))


def test_torch_backend_run_matches_numba_run(tmp_path, folder):
    model = random_model("seplut", seed=6)
    engine(model).run([folder], tmp_path / "numba")
    engine(model, backend="torch", workers=2).run([folder], tmp_path / "torch")
    for path in sorted((tmp_path / "numba").iterdir()):
        a = read_photo(path).pixels.astype(int)
        b = read_photo(tmp_path / "torch" / path.name).pixels.astype(int)
        assert np.abs(a - b).max() <= 1, path.name


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_tensor_thumbnail_equals_the_numba_thumbnail(rng, dtype, orientation):
    from ppr10k.retouch.thumbnail import predictor_input_torch

    image = photo_like(rng, 211, 157)
    pixels = (image.astype(np.float32) if dtype == np.float32
              else np.rint(image * np.iinfo(dtype).max).astype(dtype))
    expected = predictor_input(pixels, orientation, 64)
    got = predictor_input_torch(torch.from_numpy(pixels), orientation, 64)
    assert got.shape == expected.shape == ((1, 3, 64, 48) if orientation < 5
                                            else (1, 3, 48, 64))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_gpu_decode_code_path_on_the_cpu(tmp_path, rng):
    """The decode stage with a JPEG decoder device (CPU here, CUDA in use): samples held in
    a tensor, thumbnail from the tensor area resize, torch apply; close to the CPU path."""
    image = np.rint(photo_like(rng, 64, 80) * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 8
    path = tmp_path / "a.jpg"
    Image.fromarray(image).save(path, quality=95, exif=exif.tobytes())
    model = random_model("adaint", seed=7)
    job = PhotoJob(0, path, tmp_path / "out.png")
    on_device = decode_photo(job, DecodeSpec(jpeg_device="cpu"))
    plain = decode_photo(job, DecodeSpec())
    assert isinstance(on_device.pixels, torch.Tensor) and on_device.bits == 8
    assert np.abs(on_device.pixels.numpy().astype(int) - plain.pixels.astype(int)).max() <= 2
    assert on_device.thumbnail.shape == plain.thumbnail.shape  # turned upright alike
    torch.testing.assert_close(on_device.thumbnail, plain.thumbnail, atol=2 / 255, rtol=0)
    with torch.no_grad():
        plan = model.plan(model.predict(plain.thumbnail))[0]
    a = render(on_device, plan, OutputOptions(), "torch").pixels.astype(int)
    b = render(plain, plan, OutputOptions(), "numba").pixels.astype(int)
    assert np.abs(a - b).max() <= 3


def test_gpu_decode_refuses_truncated_jpeg_as_the_cpu_decoder(tmp_path, rng):
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.rint(photo_like(rng, 64, 64) * 255).astype(np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    messages = []
    for device in (None, "cpu"):
        with pytest.raises(Exception, match="truncated") as error:
            read_photo(path, jpeg_device=device)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_cmyk_jpeg_falls_back_to_the_cpu_decoder(tmp_path, rng):
    path = tmp_path / "cmyk.jpg"
    rgb = Image.fromarray(np.rint(photo_like(rng, 32, 32) * 255).astype(np.uint8))
    rgb.convert("CMYK").save(path)
    photo = read_photo(path, jpeg_device="cpu")
    assert isinstance(photo.pixels, np.ndarray)
    np.testing.assert_array_equal(photo.pixels, read_photo(path).pixels)


# ---------------------------------------------------------------- options, state, pickling


@pytest.mark.parametrize(("make", "match"), [
    (lambda: OutputOptions(bits=12), "bits must be 8 or 16"),
    (lambda: OutputOptions(fmt="jpg", bits=16), "JPEG is 8-bit"),
    (lambda: OutputOptions(fmt="gif"), "format must be one of"),
    (lambda: OutputOptions(existing="maybe"), "existing must be one of"),
    (lambda: GroupOptions(strength=1.5), "strength must be in"),
    (lambda: GroupOptions(by="colour"), "group mode must be one of"),
    (lambda: RunOptions(workers=0), "workers must be >= 1"),
    (lambda: RunOptions(batch_size=0), "batch size must be >= 1"),
    (lambda: RunOptions(backend="cuda"), "apply backend must be one of"),
])
def test_bad_options_are_one_line_errors(make, match):
    with pytest.raises(ValueError, match=match) as error:
        make()
    assert "\n" not in str(error.value)


def test_engine_and_stage_values_pickle(tmp_path, folder):
    retoucher = engine(random_model("seplut"))
    plan = retoucher.plan_jobs([folder], tmp_path / "out")
    decoded = retoucher.decode(plan.jobs[0])
    params = retoucher.predict([decoded.thumbnail])[0]
    rendered = retoucher.apply(decoded, params)
    for value in (plan, decoded, rendered, retoucher.decode_spec, retoucher.output):
        assert type(pickle.loads(pickle.dumps(value))) is type(value)
    copy = pickle.loads(pickle.dumps(retoucher))
    again = copy.predict([decoded.thumbnail])[0]
    for key in params:
        torch.testing.assert_close(again[key], params[key], atol=0, rtol=0)


def test_model_loaded_once_for_several_runs(tmp_path, folder, monkeypatch):
    from ppr10k.models import save_model

    path = save_model(random_model("lut3d"), tmp_path / "model")
    loads = []
    import ppr10k.models

    real = ppr10k.models.load_model
    monkeypatch.setattr(ppr10k.models, "load_model",
                        lambda *a, **k: loads.append(1) or real(*a, **k))
    retoucher = Retoucher(path, run=RunOptions(device="cpu", progress=False))
    for name in ("a", "b"):
        assert retoucher.run([folder], tmp_path / name).exit_code == 0
    assert loads == [1]


def test_ieee_float32_turns_tf32_off_and_restores_the_flags():
    backends = torch.backends
    saved = (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32)
    try:
        backends.cuda.matmul.allow_tf32 = True
        backends.cudnn.allow_tf32 = True
        with ieee_float32():
            assert not backends.cuda.matmul.allow_tf32 and not backends.cudnn.allow_tf32
        assert backends.cuda.matmul.allow_tf32 and backends.cudnn.allow_tf32
        with pytest.raises(KeyError), ieee_float32():
            raise KeyError("restored on errors too")
        assert backends.cuda.matmul.allow_tf32 and backends.cudnn.allow_tf32
    finally:
        backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32 = saved


def test_predictor_runs_inside_ieee_float32(folder, monkeypatch):
    retoucher = engine(random_model("lut3d"))
    seen = []
    real = retoucher.model.predict

    def spy(images):
        seen.append(torch.backends.cudnn.allow_tf32)
        return real(images)

    monkeypatch.setattr(retoucher.model, "predict", spy)
    thumb = retoucher.decode(PhotoJob(0, folder / "p0.png", folder / "x.png")).thumbnail
    retoucher.predict([thumb])
    assert seen == [False]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_engine_with_gpu_jpeg_decode_matches_cpu(tmp_path, timed):
    src, _ = timed
    model = random_model("adaint", seed=9)
    engine(model, output=OutputOptions(fmt="png")).run([src], tmp_path / "cpu")
    Retoucher(model, OutputOptions(fmt="png"),
              run=RunOptions(device="cuda", progress=False)).run([src], tmp_path / "cuda")
    Retoucher(model, OutputOptions(fmt="png"),
              run=RunOptions(device="cuda", progress=False, gpu_decode=False)
              ).run([src], tmp_path / "cuda_cpu_decode")
    for path in sorted((tmp_path / "cpu").iterdir()):
        a = read_photo(path).pixels.astype(int)
        b = read_photo(tmp_path / "cuda_cpu_decode" / path.name).pixels.astype(int)
        c = read_photo(tmp_path / "cuda" / path.name).pixels.astype(int)
        assert np.abs(a - b).max() <= 1  # same decoder: the predictor and apply agree
        assert np.abs(a - c).mean() < 1.0  # nvJPEG's IDCT/upsampling differ slightly


def test_cli_engine_options(tmp_path, folder, capsys):
    from ppr10k.cli.main import main
    from ppr10k.models import save_model

    model = save_model(random_model("adaint", seed=10), tmp_path / "model")
    base = ["retouch", str(folder), "--model", str(model), "--quiet", "--device", "cpu",
            "--format", "png", "--bits", "8"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--apply-backend", "torch",
                 "--workers", "2"]) == 0
    for path in sorted((tmp_path / "a").iterdir()):
        a = read_photo(path).pixels.astype(int)
        b = read_photo(tmp_path / "b" / path.name).pixels.astype(int)
        assert np.abs(a - b).max() <= 1, path.name
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--out", str(tmp_path / "c"), "--batch-size", "0"])
    assert exit_.value.code == 2 and "--batch-size" in capsys.readouterr().err
