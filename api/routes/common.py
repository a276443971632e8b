"""Helpers shared by the routes."""

from __future__ import annotations

import time

from api.mathml import latex_to_mathml
from api.pipeline import Recognition
from api.schemas import Alternative, ModelInfo, TokenProb
from api.settings import Settings
from seq2latex.recognizer import Recognizer
from tokenizer import compact


def model_info(recognizer: Recognizer) -> ModelInfo:
    card = recognizer.card
    return ModelInfo(name=str(card.get("name", "unknown")), version=str(card.get("version", "unknown")))


def confirm_below(recognizer: Recognizer, settings: Settings, beam: int) -> float:
    """The confidence below which a reading decoded at `beam` needs confirmation: the setting, else the
    model card's fit for that beam width."""
    return settings.confirm_below if settings.confirm_below is not None else recognizer.confirm_below(beam)


def alternatives(rec: Recognition) -> list[Alternative]:
    """The beam's readings, each with its rendering (a pupil picks a formula, not a LaTeX string)."""
    return [
        Alternative(
            latex=latex,
            latex_typed=compact(latex),
            score=score,
            mathml=latex_to_mathml(latex, display="inline"),
        )
        for latex, score in rec.alternatives
    ]


def tokens(rec: Recognition) -> list[TokenProb]:
    return [TokenProb(token=t, prob=p) for t, p in zip(rec.tokens, rec.token_probs, strict=False)]


def elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)
