"""agrochat.bridge: AgroNT encoder + projection adapter + LLaMA-family decoder + numeric head."""

from .build import build_model
from .config import (
    ConfigError,
    DecoderConfig,
    EncoderConfig,
    LoraSettings,
    ModelConfig,
    NumericHeadConfig,
    ProjectorConfig,
)
from .decoder import DNA_TOKEN, NUM_TOKEN, build_decoder
from .encoder import ENCODER_PRESETS, DnaEncoder, build_encoder, encoder_preset_config
from .generate import Generation, GenerationStream, TextStream, plain_formatter
from .head import NumericHead, gaussian_nll
from .io import CheckpointError, save_model_dir
from .model import DnaLanguageModel, NumericValue
from .processor import DnaChatProcessor, PlaceholderError
from .projector import build_projector
from .tokenizer import DnaSequenceError, load_agront_tokenizer, normalize_dna, token_count
from .trainable import set_trainable

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DNA_TOKEN",
    "DecoderConfig",
    "DnaChatProcessor",
    "DnaEncoder",
    "DnaLanguageModel",
    "DnaSequenceError",
    "ENCODER_PRESETS",
    "EncoderConfig",
    "Generation",
    "GenerationStream",
    "LoraSettings",
    "ModelConfig",
    "NUM_TOKEN",
    "NumericHead",
    "NumericHeadConfig",
    "NumericValue",
    "PlaceholderError",
    "TextStream",
    "ProjectorConfig",
    "build_decoder",
    "build_encoder",
    "build_model",
    "build_projector",
    "encoder_preset_config",
    "gaussian_nll",
    "load_agront_tokenizer",
    "normalize_dna",
    "plain_formatter",
    "save_model_dir",
    "set_trainable",
    "token_count",
]
