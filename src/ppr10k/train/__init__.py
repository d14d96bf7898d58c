"""Training (spec §4) and split prediction."""

from ppr10k.train.config import TrainConfig, load_config_file
from ppr10k.train.loop import Trainer, TrainResult, train, training_step, validation_psnr
from ppr10k.train.predict import list_sources, predict_split

__all__ = [
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "list_sources",
    "load_config_file",
    "predict_split",
    "train",
    "training_step",
    "validation_psnr",
]
