"""Bad inputs and bad options through the CLI: one line naming the input, never a traceback.

Exit codes: 1 for bad data (damaged photos, models, checkpoints, sidecars), 2 for bad usage
(option values out of range, an output path that cannot be one). Each case is one row of
``CASES``: a setup function that makes the bad input in ``tmp_path`` and returns the
command line, the expected exit code and a substring of the expected message. Batch
commands (``retouch``, ``evaluate``, ``xmp augment``) report the bad file and go on, so
their rows allow a multi-line summary (``one_line=False``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.models import AdaptiveLUT, ModelConfig, save_model

Setup = Callable[[Path, pytest.FixtureRequest], list[str]]


# ---------------------------------------------------------------- inputs


def photo(folder: Path, name: str = "ok.png", seed: int = 0) -> Path:
    """A small smooth 8-bit photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:40, 0:60] / 60
    base = np.stack([0.2 + 0.6 * x, 0.3 + 0.5 * y, 0.5 + 0.3 * (x - y)], axis=-1)
    pixels = np.clip(base + 0.05 * rng.standard_normal(base.shape), 0, 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.fromarray(np.rint(pixels * 255).astype(np.uint8)).save(path)
    return path


def jpeg_bytes(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = (rng.random((64, 96, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def tiny_model(path: Path, nan: bool = False) -> Path:
    """A tiny lut3d model folder (identity start); ``nan``: one LUT entry is NaN."""
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=5, n_luts=2))
    if nan:
        with torch.no_grad():
            model.luts[0, 0, 0, 0, 0] = float("nan")
    return save_model(model, path)


def retouch_argv(tmp: Path, model: Path | str, *inputs: Path) -> list[str]:
    return ["retouch", *map(str, inputs), "--model", str(model), "--out", str(tmp / "out"),
            "--device", "cpu", "--quiet"]


def tiny_data(rq: pytest.FixtureRequest) -> Path:
    """The tiny PPR10K-format dataset of ``tests/conftest.py``."""
    return rq.getfixturevalue("tiny_ppr10k")


def tiny_run(tmp: Path, rq: pytest.FixtureRequest) -> tuple[Path, Path]:
    """A tiny dataset and a fabricated run folder that `train --resume` would continue."""
    data = tiny_data(rq)
    run = tmp / "run"
    (run / "last").mkdir(parents=True)
    config = {"data": str(data), "out": str(run), "epochs": 2, "batch_size": 2,
              "crop_size": 16, "glc_crop": 12, "num_workers": 0, "device": "cpu",
              "backbone_weights": "none", "model": {"backbone": "tiny", "lut_dim": 5}}
    (run / "config.json").write_text(json.dumps(config))
    tiny_model(run / "last")
    torch.save({"epoch": 1}, run / "last" / "train_state.pt")
    return data, run


def resume_argv(run: Path) -> list[str]:
    return ["train", "--out", str(run), "--resume", "--quiet"]


def eval_folders(tmp: Path) -> tuple[Path, Path, Path]:
    """pred/target/masks folders with three photos of group 1."""
    pred, target, masks = tmp / "pred", tmp / "target", tmp / "masks"
    for index in range(3):
        photo(pred, f"1_{index}.png", seed=index)
        photo(target, f"1_{index}.png", seed=10 + index)
        mask = np.zeros((40, 60), np.uint8)
        mask[10:30, 20:40] = 255
        masks.mkdir(exist_ok=True)
        Image.fromarray(mask).save(masks / f"1_{index}.png")
    return pred, target, masks


def eval_argv(pred: Path, target: Path, masks: Path, *extra: str) -> list[str]:
    return ["evaluate", "--pred", str(pred), "--target", str(target), "--masks", str(masks),
            "--workers", "1", "--no-progress", *extra]


XMP_HEAD = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" '
            'crs:Exposure2012="+0.50" crs:Temperature="5000" crs:Tint="+2" '
            'crs:Highlights2012="0" crs:Contrast2012="0" crs:Saturation="0">')
XMP_TAIL = "</rdf:Description></rdf:RDF></x:xmpmeta>"


def deep_xmp(depth: int = 600) -> str:
    return XMP_HEAD + "<crs:Look>" + "<a>" * depth + "</a>" * depth + "</crs:Look>" + XMP_TAIL


# ---------------------------------------------------------------- cases


def jpeg_cut(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = jpeg_bytes()
    (tmp / "in").mkdir()
    (tmp / "in" / "cut.jpg").write_bytes(data[: len(data) // 2])
    return retouch_argv(tmp, tiny_model(tmp / "m"), tmp / "in" / "cut.jpg")


def jpeg_cut_with_eoi(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = jpeg_bytes()
    (tmp / "in").mkdir()
    (tmp / "in" / "cut.jpg").write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    return retouch_argv(tmp, tiny_model(tmp / "m"), tmp / "in" / "cut.jpg")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_short_idat(bits: int) -> Setup:
    """A PNG whose image data is cut in half, re-chunked with valid CRCs and an IEND."""
    def setup(tmp: Path, _rq: pytest.FixtureRequest) -> list[str]:
        from ppr10k.io import write_image

        good = photo(tmp / "in")
        pixels = np.asarray(Image.open(good).convert("RGB"))
        bad = tmp / "in" / f"short{bits}.png"
        write_image(bad, pixels.astype(np.uint16) * 257 if bits == 16 else pixels)
        data = bad.read_bytes()
        start = data.index(b"IDAT") - 4
        length = int.from_bytes(data[start:start + 4], "big")
        idat = data[start + 8:start + 8 + length]
        bad.write_bytes(data[:start] + png_chunk(b"IDAT", idat[: length // 2])
                        + png_chunk(b"IEND", b""))
        return retouch_argv(tmp, tiny_model(tmp / "m"), good, bad)
    return setup


def tiff_nan(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    pixels = np.full((20, 30, 3), 0.5, np.float32)
    pixels[3, 4, 1] = np.nan
    (tmp / "in").mkdir()
    tifffile.imwrite(tmp / "in" / "nan.tif", pixels, photometric="rgb")
    return retouch_argv(tmp, tiny_model(tmp / "m"), tmp / "in" / "nan.tif")


def model_nan(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    return retouch_argv(tmp, tiny_model(tmp / "m", nan=True), photo(tmp / "in"))


def model_empty(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "m").mkdir()
    (tmp / "m" / "model.safetensors").write_bytes(b"")
    return retouch_argv(tmp, tmp / "m", photo(tmp / "in"))


def model_cut(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    weights = tiny_model(tmp / "m") / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return retouch_argv(tmp, tmp / "m", photo(tmp / "in"))


def model_text(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "m").mkdir()
    (tmp / "m" / "model.safetensors").write_text("this is not a model\n")
    return retouch_argv(tmp, tmp / "m", photo(tmp / "in"))


def model_bad_metadata(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    from safetensors.torch import save_file

    (tmp / "m").mkdir()
    save_file({"x": torch.zeros(2)}, str(tmp / "m" / "model.safetensors"),
              metadata={"ppr10k": "{not json"})
    return retouch_argv(tmp, tmp / "m", photo(tmp / "in"))


def model_bad_config_values(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    from safetensors.torch import save_file

    (tmp / "m").mkdir()
    info = {"format": "ppr10k-lut-model/2", "model": {"lut_dim": "many", "n_luts": None}}
    save_file({"x": torch.zeros(2)}, str(tmp / "m" / "model.safetensors"),
              metadata={"ppr10k": json.dumps(info)})
    return retouch_argv(tmp, tmp / "m", photo(tmp / "in"))


def predict_model_empty(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = tiny_data(rq)
    (tmp / "m").mkdir()
    (tmp / "m" / "model.safetensors").write_bytes(b"")
    return ["predict", "--data", str(data), "--model", str(tmp / "m"), "--out",
            str(tmp / "out"), "--device", "cpu", "--quiet"]


def predict_model_nan(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = tiny_data(rq)
    return ["predict", "--data", str(data), "--model", str(tiny_model(tmp / "m", nan=True)),
            "--out", str(tmp / "out"), "--device", "cpu", "--quiet"]


def resume_state_garbage(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    _, run = tiny_run(tmp, rq)
    (run / "last" / "train_state.pt").write_bytes(b"garbage, not a zip file")
    return resume_argv(run)


def resume_state_empty(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    _, run = tiny_run(tmp, rq)
    (run / "last" / "train_state.pt").write_bytes(b"")
    return resume_argv(run)


def resume_state_incomplete(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    _, run = tiny_run(tmp, rq)  # holds {"epoch": 1} only
    return resume_argv(run)


def resume_config_damaged(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    _, run = tiny_run(tmp, rq)
    (run / "config.json").write_text('{"data": "x", ')
    return resume_argv(run)


def resume_config_empty(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    _, run = tiny_run(tmp, rq)
    (run / "config.json").write_text("")
    return resume_argv(run)


def resume_state_other_model(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    """A complete state whose weights belong to another model than config.json's."""
    _, run = tiny_run(tmp, rq)
    other = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9, n_luts=3))
    optimizer = torch.optim.Adam(other.parameters())
    torch.save({"model": other.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 1,
                "best_epoch": 1, "best_psnr": 20.0, "history": "[]",
                "torch_rng": torch.get_rng_state()}, run / "last" / "train_state.pt")
    return resume_argv(run)


def evaluate_nan_mask(tmp: Path, _rq: pytest.FixtureRequest) -> list[str]:
    pred, target, masks = eval_folders(tmp)
    values = np.ones((40, 60), np.float32)
    values[0, 0] = np.nan
    (masks / "1_0.png").unlink()
    tifffile.imwrite(masks / "1_0.tif", values)
    return eval_argv(pred, target, masks)


def config_file_bad_value(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "c.json").write_text(json.dumps({"epochs": "ten"}))
    return ["train", "--data", str(tmp), "--config", str(tmp / "c.json"), "--out",
            str(tmp / "run"), "--quiet"]


def import_pickle(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    import pickle

    class Obj:  # a class that weights_only loading refuses
        pass

    Obj.__module__ = "collections"
    Obj.__qualname__ = "OrderedDict"
    (tmp / "evil.pth").write_bytes(pickle.dumps({"x": print}))
    return ["import-official", str(tmp / "evil.pth"), "--out", str(tmp / "model")]


def import_empty(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "empty.pth").write_bytes(b"")
    return ["import-official", str(tmp / "empty.pth"), "--out", str(tmp / "model")]


def evaluate_corrupt_prediction(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    pred, target, masks = eval_folders(tmp)
    data = (pred / "1_1.png").read_bytes()
    (pred / "1_1.png").write_bytes(data[: len(data) // 2])
    return eval_argv(pred, target, masks, "--json", str(tmp / "scores.json"))


def evaluate_corrupt_mask(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    pred, target, masks = eval_folders(tmp)
    (masks / "1_2.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return eval_argv(pred, target, masks)


def evaluate_all_corrupt(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    pred, target, masks = eval_folders(tmp)
    for path in pred.iterdir():
        path.write_bytes(b"")
    return eval_argv(pred, target, masks)


def evaluate_csv_is_folder(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    pred, target, masks = eval_folders(tmp)
    (tmp / "report").mkdir()
    return eval_argv(pred, target, masks, "--csv", str(tmp / "report"))


def evaluate_json_is_folder(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    pred, target, masks = eval_folders(tmp)
    (tmp / "report").mkdir()
    return eval_argv(pred, target, masks, "--json", str(tmp / "report"))


def evaluate_psnr_cap_nan(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    return eval_argv(*eval_folders(tmp), "--psnr-cap", "nan")


def evaluate_psnr_cap_negative(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    return eval_argv(*eval_folders(tmp), "--psnr-cap", "-3")


def xmp_show_deep(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "deep.xmp").write_text(deep_xmp())
    return ["xmp", "show", str(tmp / "deep.xmp")]


def xmp_diff_deep(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "deep.xmp").write_text(deep_xmp())
    (tmp / "ok.xmp").write_text(XMP_HEAD + XMP_TAIL)
    return ["xmp", "diff", str(tmp / "ok.xmp"), str(tmp / "deep.xmp")]


def xmp_augment_deep(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    source = tmp / "src"
    source.mkdir()
    (source / "1_1.xmp").write_text(deep_xmp())
    (source / "1_2.xmp").write_text(XMP_HEAD + XMP_TAIL)
    return ["xmp", "augment", "--source", str(source), "--out", str(tmp / "aug"),
            "--versions", "2", "--quiet"]


def xmp_show_binary(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "bin.xmp").write_bytes(bytes(range(256)))
    return ["xmp", "show", str(tmp / "bin.xmp")]


def retouch_out_is_file(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "out").write_text("a file")
    return retouch_argv(tmp, tiny_model(tmp / "m"), photo(tmp / "in"))


def predict_out_is_file(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = tiny_data(rq)
    (tmp / "out").write_text("a file")
    return ["predict", "--data", str(data), "--model", str(tiny_model(tmp / "m")),
            "--out", str(tmp / "out"), "--device", "cpu", "--quiet"]


def train_out_is_file(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = tiny_data(rq)
    (tmp / "run").write_text("a file")
    return ["train", "--data", str(data), "--out", str(tmp / "run"), "--backbone", "tiny",
            "--backbone-weights", "none", "--quiet"]


def with_option(*option: str) -> Setup:
    """A retouch of one good photo with an extra option."""
    def setup(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
        return retouch_argv(tmp, tiny_model(tmp / "m"), photo(tmp / "in")) + list(option)
    return setup


def train_option(*option: str) -> Setup:
    """A `train` command line with an extra option (nothing is trained: it is refused)."""
    def setup(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
        return ["train", "--data", str(tmp), "--out", str(tmp / "run"), "--quiet", *option]
    return setup


def backbone_weights_not_weights(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = tiny_data(rq)
    (tmp / "weights.pth").write_text("no weights here\n")
    return ["train", "--data", str(data), "--out", str(tmp / "run"), "--backbone",
            "resnet18", "--backbone-weights", str(tmp / "weights.pth"), "--quiet",
            "--device", "cpu"]


def backbone_weights_list(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = tiny_data(rq)
    torch.save([torch.zeros(3)], tmp / "weights.pth")
    return ["train", "--data", str(data), "--out", str(tmp / "run"), "--backbone",
            "resnet18", "--backbone-weights", str(tmp / "weights.pth"), "--quiet",
            "--device", "cpu"]


def cut_file(path: Path, keep: int = 300) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def predict_corrupt_source(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = tiny_data(rq)
    cut_file(data / "val" / "source" / "1356_0.tif")
    return ["predict", "--data", str(data), "--model", str(tiny_model(tmp / "m")),
            "--out", str(tmp / "out"), "--device", "cpu", "--quiet"]


def compare_corrupt_image(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = tiny_data(rq)
    cut_file(data / "val" / "target_a" / "1356_1.tif")
    return ["compare", "--rows", f"{data / 'val' / 'source'},{data / 'val' / 'target_a'}",
            "--group", "1356", "--out", str(tmp / "sheet.png")]


def retouch_corrupt(name: str, keep: int) -> Setup:
    """A retouch of a good photo and of a copy cut after ``keep`` bytes."""
    def setup(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
        good = photo(tmp / "in", "good.png")
        image = Image.open(good).convert("RGB")
        bad = tmp / "in" / name
        image.save(bad)
        cut_file(bad, keep if keep > 0 else len(bad.read_bytes()) + keep)
        return retouch_argv(tmp, tiny_model(tmp / "m"), good, bad)
    return setup


def config_not_text(tmp: Path, _rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "c.json").write_bytes(bytes(range(256)))
    return ["train", "--data", str(tmp), "--config", str(tmp / "c.json"), "--quiet"]


def config_is_folder(tmp: Path, _rq: pytest.FixtureRequest) -> list[str]:
    (tmp / "c.json").mkdir()
    return ["train", "--data", str(tmp), "--config", str(tmp / "c.json"), "--quiet"]


def plain(*argv: str) -> Setup:
    """A command line that needs no files (it is refused before reading any)."""
    def setup(tmp: Path, _rq: pytest.FixtureRequest) -> list[str]:
        (tmp / "file").write_text("a file")
        return [part.replace("TMP", str(tmp)) for part in argv]
    return setup


def evaluate_corrupt_mask_in_workers(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    pred, target, masks = eval_folders(tmp)
    cut_file(masks / "1_2.png", 60)
    return eval_argv(pred, target, masks)[:-3] + ["--workers", "2", "--no-progress"]


def train_diverges(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    """A loss that turns NaN: training stops in one line before saving anything."""
    from ppr10k.train import loop

    data = tiny_data(rq)

    def nan_step(model, batch, config, device):
        prediction, _ = model(batch["source"].to(device))
        return prediction.mean() * float("nan"), {}

    rq.getfixturevalue("monkeypatch").setattr(loop, "training_step", nan_step)
    return ["train", "--data", str(data), "--out", str(tmp / "run"), "--backbone", "tiny",
            "--backbone-weights", "none", "--lut-dim", "5", "--batch-size", "2",
            "--num-workers", "0", "--device", "cpu", "--epochs", "1", "--quiet"]


def predict_output_not_finite(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    """Finite weights whose output is not (an overflow): predict names photo and model."""
    data = tiny_data(rq)
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=5, n_luts=2))
    with torch.no_grad():
        model.luts[0] = 3e38
        model.luts[1] = 3e38
        model.head.bias.fill_(1.0)
    return ["predict", "--data", str(data), "--model", str(save_model(model, tmp / "m")),
            "--out", str(tmp / "out"), "--device", "cpu", "--quiet"]


def check_pixels_root(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    data = tiny_data(rq)
    cut_file(data / "val" / "source" / "1356_0.tif", 400)
    return ["data", "check", str(data), "--pixels"]


def check_pixels_pairs(tmp: Path, _rq: pytest.FixtureRequest) -> list[str]:
    for folder in ("orig", "edit"):
        for name in ("a", "b"):
            (tmp / folder).mkdir(exist_ok=True)
            (tmp / folder / f"{name}.jpg").write_bytes(jpeg_bytes())
    data = jpeg_bytes()
    (tmp / "edit" / "b.jpg").write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    return ["data", "check", f"pairs:{tmp / 'orig'},{tmp / 'edit'}", "--pixels"]


def train_corrupt_source_in_worker(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    """A damaged training photo read in a DataLoader worker process: named in one line."""
    data = tiny_data(rq)
    for path in (data / "train" / "source_aug").iterdir():
        cut_file(path)
    return ["train", "--data", str(data), "--out", str(tmp / "run"), "--backbone", "tiny",
            "--backbone-weights", "none", "--lut-dim", "5", "--batch-size", "2",
            "--num-workers", "1", "--device", "cpu", "--epochs", "1", "--quiet"]


def unexpected(tmp: Path, rq: pytest.FixtureRequest) -> list[str]:
    """A bug deep inside a command: the last-resort handler names command and input."""
    import ppr10k.retouch

    monkeypatch = rq.getfixturevalue("monkeypatch")

    def broken(*_args, **_kwargs):
        raise RuntimeError("something broke\nover two lines")

    monkeypatch.setattr(ppr10k.retouch, "Retoucher", broken)
    return retouch_argv(tmp, tiny_model(tmp / "m"), photo(tmp / "in"))


@dataclass(frozen=True)
class Case:
    """One bad input: how to make it, the exit code and a piece of the message."""

    setup: Setup
    code: int
    message: str
    one_line: bool = True
    stdout: bool = False  # reports that list problems (data check) print them on stdout


CASES: dict[str, Case] = {
    # damaged pixels: named, non-zero exit
    "jpeg cut short": Case(jpeg_cut, 1, "cut.jpg: cannot decode JPEG: truncated", False),
    "jpeg cut short + EOI": Case(jpeg_cut_with_eoi, 1, "cut.jpg: cannot decode JPEG: "
                                 "truncated", False),
    "8-bit PNG, half its data + IEND": Case(png_short_idat(8), 1,
                                            "short8.png: cannot decode PNG", False),
    "16-bit PNG, half its data + IEND": Case(png_short_idat(16), 1,
                                             "short16.png: cannot decode PNG", False),
    "float tiff with NaN": Case(tiff_nan, 1, "nan.tif: 1 sample is NaN", False),
    "model with NaN weights": Case(model_nan, 1, "not finite"),
    "predict: model with NaN weights": Case(predict_model_nan, 1, "not finite"),
    # damaged models, states and configs
    "empty model.safetensors": Case(model_empty, 1, "model.safetensors: empty file"),
    "model.safetensors cut short": Case(model_cut, 1, "not a readable ppr10k checkpoint"),
    "text file named model.safetensors": Case(model_text, 1,
                                              "not a readable ppr10k checkpoint"),
    "model metadata not JSON": Case(model_bad_metadata, 1, "not a readable ppr10k checkpoint"),
    "model config values wrong": Case(model_bad_config_values, 1, "bad model config"),
    "predict: empty model.safetensors": Case(predict_model_empty, 1, "empty file"),
    "resume: train_state.pt garbage": Case(resume_state_garbage, 1,
                                           "train_state.pt: damaged training state"),
    "resume: train_state.pt empty": Case(resume_state_empty, 1,
                                         "train_state.pt: damaged training state"),
    "resume: train_state.pt incomplete": Case(resume_state_incomplete, 1,
                                              "train_state.pt: damaged training state"),
    "resume: state of another model": Case(resume_state_other_model, 1,
                                           "train_state.pt: the training state does not fit"),
    "resume: config.json damaged": Case(resume_config_damaged, 1,
                                        "config.json: cannot parse config"),
    "resume: config.json empty": Case(resume_config_empty, 1,
                                      "config.json: cannot parse config"),
    "config file with a wrong type": Case(config_file_bad_value, 1, "epochs"),
    "import-official: pickle refused": Case(import_pickle, 1,
                                            "not a weights-only PyTorch checkpoint"),
    "import-official: empty file": Case(import_empty, 1, "empty.pth"),
    # evaluate: name the bad file, score the rest
    "evaluate: corrupt prediction": Case(evaluate_corrupt_prediction, 1,
                                         "1_1.png", False),
    "evaluate: corrupt mask": Case(evaluate_corrupt_mask, 1, "1_2.png", False),
    "evaluate: mask with NaN": Case(evaluate_nan_mask, 1, "1_0.tif: mask samples are NaN",
                                    False),
    "evaluate: every prediction corrupt": Case(evaluate_all_corrupt, 1, "1_0.png", False),
    "evaluate: --csv is a folder": Case(evaluate_csv_is_folder, 2, "--csv"),
    "evaluate: --json is a folder": Case(evaluate_json_is_folder, 2, "--json"),
    "evaluate: --psnr-cap nan": Case(evaluate_psnr_cap_nan, 2, "--psnr-cap"),
    "evaluate: --psnr-cap -3": Case(evaluate_psnr_cap_negative, 2, "--psnr-cap"),
    # XMP
    "xmp show: 600 levels deep": Case(xmp_show_deep, 1, "deep.xmp: nested deeper than"),
    "xmp diff: 600 levels deep": Case(xmp_diff_deep, 1, "deep.xmp: nested deeper than"),
    "xmp augment: one file 600 levels deep": Case(xmp_augment_deep, 1,
                                                  "1_1.xmp: nested deeper than", False),
    "xmp show: binary file": Case(xmp_show_binary, 1, "bin.xmp"),
    # outputs and option values
    "retouch: --out is a file": Case(retouch_out_is_file, 2, "is a file"),
    "predict: --out is a file": Case(predict_out_is_file, 2, "is a file"),
    "train: --out is a file": Case(train_out_is_file, 2, "is a file"),
    "retouch: --max-pixels 1e400": Case(with_option("--max-pixels", "1e400"), 2,
                                        "--max-pixels"),
    "retouch: --max-pixels -5": Case(with_option("--max-pixels", "-5"), 2, "--max-pixels"),
    "retouch: --max-pixels nan": Case(with_option("--max-pixels", "nan"), 2, "--max-pixels"),
    "retouch: --quality -5": Case(with_option("--quality", "-5"), 2, "--quality"),
    "retouch: --quality 101": Case(with_option("--quality", "101"), 2, "--quality"),
    "retouch: --group-gap nan": Case(with_option("--group-gap", "nan"), 2, "--group-gap"),
    "retouch: --group-gap -1": Case(with_option("--group-gap", "-1"), 2, "--group-gap"),
    "retouch: --group-strength nan": Case(with_option("--group-strength", "nan"), 2,
                                          "--group-strength"),
    "retouch: --bits 16 --format jpg": Case(with_option("--bits", "16", "--format", "jpg"), 2,
                                            "JPEG is 8-bit"),
    "data split: --first-val-group -5": Case(plain("data", "split", "TMP", "--out", "TMP/o",
                                                   "--first-val-group", "-5"), 2,
                                             "--first-val-group"),
    "retouch: --workers 0": Case(with_option("--workers", "0"), 2, "--workers"),
    "train: --n-luts 0": Case(train_option("--n-luts", "0"), 2, "--n-luts"),
    "train: --lut-dim 100000": Case(train_option("--lut-dim", "100000"), 2, "--lut-dim"),
    "train: --lut-dim 1": Case(train_option("--lut-dim", "1"), 2, "--lut-dim"),
    "train: --curve-dim 100000": Case(train_option("--curve-dim", "100000"), 2,
                                      "--curve-dim"),
    "train: --epochs 0": Case(train_option("--epochs", "0"), 2, "--epochs"),
    "train: --batch-size 0": Case(train_option("--batch-size", "0"), 2, "--batch-size"),
    "train: --lr nan": Case(train_option("--lr", "nan"), 2, "--lr"),
    "train: --lr -1": Case(train_option("--lr", "-1"), 2, "--lr"),
    "train: --lambda-mono inf": Case(train_option("--lambda-mono", "inf"), 2,
                                     "--lambda-mono"),
    "train: --num-workers -1": Case(train_option("--num-workers", "-1"), 2,
                                    "--num-workers"),
    "train: --backbone-weights holds no weights": Case(backbone_weights_not_weights, 1,
                                                       "weights.pth"),
    "train: --backbone-weights holds a list": Case(backbone_weights_list, 1,
                                                   "weights.pth: not a ResNet-18 state dict"),
    # found by hunting: damaged files elsewhere, more option values
    "predict: corrupt source": Case(predict_corrupt_source, 1,
                                    "1356_0.tif: cannot decode TIFF: truncated file"),
    "compare: corrupt image": Case(compare_corrupt_image, 1,
                                   "1356_1.tif: cannot decode TIFF: truncated file"),
    "retouch: PNG cut short": Case(retouch_corrupt("cut.png", -200), 1,
                                   "cut.png: cannot decode PNG", False),
    "retouch: TIFF cut short": Case(retouch_corrupt("cut.tif", 400), 1,
                                    "cut.tif: cannot decode TIFF: truncated", False),
    "evaluate: corrupt mask, 2 workers": Case(evaluate_corrupt_mask_in_workers, 1,
                                              "1_2.png: cannot decode PNG", False),
    "train: --config not text": Case(config_not_text, 1, "c.json: cannot parse config"),
    "train: --config is a folder": Case(config_is_folder, 1, "c.json is a folder"),
    "xmp augment: --versions 0": Case(plain("xmp", "augment", "--source", "TMP", "--out",
                                            "TMP/aug", "--versions", "0"), 2, "--versions"),
    "data sample: --groups 0": Case(plain("data", "sample", "TMP/s", "--groups", "0"), 2,
                                    "--groups"),
    "data sample: --per-group -1": Case(plain("data", "sample", "TMP/s", "--per-group", "-1"),
                                        2, "--per-group"),
    "data check: --val-share 2": Case(plain("data", "check", "TMP", "--val-share", "2"), 2,
                                      "--val-share"),
    "data stats: --bins 0": Case(plain("data", "stats", "TMP", "--plots", "TMP/p", "--bins",
                                       "0"), 2, "--bins"),
    "evaluate: --workers -1": Case(plain("evaluate", "--pred", "TMP", "--target", "TMP",
                                         "--masks", "TMP", "--workers", "-1"), 2,
                                   "--workers"),
    "compare: --cell-height 0": Case(plain("compare", "--rows", "TMP", "--group", "1",
                                           "--out", "TMP/s.png", "--cell-height", "0"), 2,
                                     "--cell-height"),
    "train: the loss turns NaN": Case(train_diverges, 1, "training diverged: the loss is "
                                      "nan at epoch 1, step 1"),
    "predict: output not finite": Case(predict_output_not_finite, 1,
                                       "gave NaN or infinite values"),
    "import-official: --out is a file": Case(plain("import-official", "TMP/x.pth", "--out",
                                                    "TMP/file"), 2, "is a file"),
    "xmp augment: --out is a file": Case(plain("xmp", "augment", "--source", "TMP", "--out",
                                               "TMP/file"), 2, "is a file"),
    "data sample: OUT is a file": Case(plain("data", "sample", "TMP/file"), 2, "is a file"),
    "data split: --out is a file": Case(plain("data", "split", "TMP", "--out", "TMP/file"), 2,
                                        "is a file"),
    "data stats: --plots is a file": Case(plain("data", "stats", "TMP", "--plots", "TMP/file"),
                                          2, "is a file"),
    "data check --pixels: TIFF cut short": Case(
        check_pixels_root, 1, "1356_0.tif (cannot decode TIFF: truncated", False, True),
    "data check pairs --pixels: JPEG cut + EOI": Case(
        check_pixels_pairs, 1, "b.jpg (cannot decode JPEG: truncated", False, True),
    "train: damaged photo read in a worker": Case(
        train_corrupt_source_in_worker, 1, ".tif: cannot decode TIFF: truncated file"),
    # the last resort
    "unexpected exception": Case(unexpected, 1, "ppr10k retouch: unexpected error: "
                                 "RuntimeError: something broke"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_with_exit_code(name: str, tmp_path: Path,
                                              request: pytest.FixtureRequest,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[name]
    argv = case.setup(tmp_path, request)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err
    assert case.message in (captured.out if case.stdout else err), captured
    assert code == case.code, err
    if case.one_line:
        assert len(message_lines(err)) == 1, err


def message_lines(err: str) -> list[str]:
    """stderr's lines without argparse's usage block (``usage:`` and its continuations)."""
    lines, in_usage = [], False
    for line in err.splitlines():
        in_usage = line.startswith("usage:") or (in_usage and line.startswith(" "))
        if line.strip() and not in_usage:
            lines.append(line)
    return lines


def test_debug_shows_the_traceback(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    argv = unexpected(tmp_path, request)
    with pytest.raises(RuntimeError, match="something broke"):
        main(["--debug", *argv])


def test_evaluate_scores_the_rest_of_the_pairs(tmp_path: Path,
                                               request: pytest.FixtureRequest) -> None:
    argv = evaluate_corrupt_prediction(tmp_path, request)
    assert main(argv) == 1
    summary = json.loads((tmp_path / "scores.json").read_text())
    assert summary["n_images"] == 2
    assert [f["stem"] for f in summary["failed"]] == ["1_1"]


def test_xmp_augment_goes_on_after_a_bad_file(tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    assert main(xmp_augment_deep(tmp_path, request)) == 1
    assert sorted(p.name for p in (tmp_path / "aug").glob("*.xmp")) == ["1_2_1.xmp",
                                                                        "1_2_2.xmp"]


@pytest.mark.parametrize(("kwargs", "text", "ok"), [
    ({"low": 1}, "3", True), ({"low": 1}, "0", False), ({"low": 0.0}, "nan", False),
    ({"low": 0.0}, "inf", False), ({"low": 0.0, "allow_inf": True}, "inf", True),
    ({"low": 0.0, "allow_inf": True}, "-inf", False), ({"high": 100}, "101", False),
    ({"low": 0.0, "low_open": True}, "0", False), ({}, "1e400", False),
])
def test_number_type(kwargs: dict, text: str, ok: bool) -> None:
    import argparse

    from ppr10k.cli.main import number_type

    kind = int if text == "3" or "high" in kwargs else float
    parse = number_type(kind, **kwargs)
    if ok:
        assert parse(text) == kind(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)
