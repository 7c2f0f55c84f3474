"""Thinkless's decoupled control-token term (DeGRPO; Fang et al. 2025, "Thinkless: LLM Learns When to Think")
for ms-swift 4.6's GRPO loss: docs/rewards.md §11 gives the equations and why.

The mode of a reply is decided by one token: its first, where ``<think>`` and ``<answer>`` are one token each,
or the first after the prefix both openings share (a BPE that splits them as ``<`` + word + ``>``:
:func:`decision_position`). Under ms-swift's loss, that token's share of the gradient depends on the reply's length (``--loss_type grpo``: 1/(G·T_i)) or on the
batch's token count (``bnpo``: 1/N). DeGRPO gives it a term of its own, averaged over the completions, beside
the token-level mean over the response tokens:

    L = α · (1/B) Σ_i ℓ_{i,1} + (1/N_r) Σ_i Σ_{t≥2} ℓ_{i,t}          (Eq. D1)

where ℓ_{i,t} is ms-swift's per-token loss (clipped ratio × advantage, plus β·KL), B the completions with at
least one token and N_r their tokens after the first. α is Thinkless's weight of the control-token term.

How it is applied, in one scoped place: ms-swift 4.6 writes the aggregation inline in
``GRPOTrainer._compute_loss_and_metrics``; with ``--loss_type bnpo`` that loss is (1/N) Σ_{i,t} ℓ_{i,t}. Every
ℓ_{i,t} depends on the weights only through the token's log-probability, so multiplying the gradient that
reaches each log-probability by s_{i,t} = N · w_{i,t} (w: the weights of Eq. D1) gives exactly the gradient
of Eq. D1. The wrapper below attaches that factor to the log-probabilities
``_get_per_token_logps_and_entropies`` returns while training; the loss value ms-swift logs stays bnpo's.

Enabled by ``AUDIO_THINKER_DECISION_ALPHA=α`` (a catalogue row's ``env``); refused, with one line, on an
ms-swift other than 4.6 and with options under which the factor would not be Eq. D1's.
"""
from __future__ import annotations

import functools
import logging
import os
from importlib.metadata import version

from swift_plugins.options_guard import Finding, refuse

# How a reply opens in each mode (audio_thinker/tags.py's formats): their first differing token is the decision.
THINK_OPENING, ANSWER_OPENING = "<think>", "<answer>"

logger = logging.getLogger("audio_thinker")

ENV = "AUDIO_THINKER_DECISION_ALPHA"
SWIFT_VERSIONS = ("4.6",)   # where the aggregation read above was checked (grpo_trainer.py)
DOCS_REASON = "the decoupled decision-token term (AUDIO_THINKER_DECISION_ALPHA) needs it"


def alpha_from_env(environ=None) -> float | None:
    """α of Eq. D1, or None when the term is off; a value that is not a number > 0 is refused."""
    raw = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not raw:
        return None
    try:
        alpha = float(raw)
    except ValueError:
        alpha = float("nan")
    if not alpha > 0:
        refuse([Finding(f"{ENV}={raw}", "α of the decision-token term must be a number above 0")])
    return alpha


def decision_position(tokenizer) -> int:
    """Which completion token decides the mode: the first at which a think opening and an answer-only opening
    tokenize differently. 0 where ``<think>`` and ``<answer>`` are one token each (the tiny and mini
    checkpoints); 1 for a byte-level BPE that splits both as ``<`` + word + ``>`` (SmolLM2's tokenizer does):
    the shared ``<`` decides nothing, so Eq. D1's term belongs on the token after it."""
    think = tokenizer.encode(THINK_OPENING, add_special_tokens=False)
    answer = tokenizer.encode(ANSWER_OPENING, add_special_tokens=False)
    shared = 0
    while shared < min(len(think), len(answer)) and think[shared] == answer[shared]:
        shared += 1
    return shared


def decoupled_weights(mask, alpha: float, position: int = 0):
    """w_{i,t} of Eq. D1 for a boolean completion mask [B, T]: α/B on each completion's decision token (its
    ``position``-th real token, :func:`decision_position`), 1/N_r on its other tokens, 0 on padding."""
    import torch

    mask = mask.bool()
    order = mask.int().cumsum(dim=1) - 1            # each real token's index within its completion
    first = mask & (order == position)              # the decision token of each completion long enough to have one
    has_tokens = first.any(dim=1)
    later = mask & ~first
    weights = torch.zeros(mask.shape, dtype=torch.float64, device=mask.device)
    weights[first] = alpha / max(int(has_tokens.sum()), 1)
    weights[later] = 1.0 / max(int(later.sum()), 1)
    return weights


def gradient_factor(mask, alpha: float, position: int = 0):
    """s_{i,t} = N · w_{i,t}: what turns bnpo's gradient ((1/N) Σ ℓ) into Eq. D1's."""
    n = max(int(mask.bool().sum()), 1)
    return decoupled_weights(mask, alpha, position) * n


def attach(per_token_logps, mask, alpha: float, position: int = 0):
    """Scale the gradient reaching each log-probability by Eq. D1's factor (nothing when no gradient flows)."""
    if per_token_logps.requires_grad:
        factor = gradient_factor(mask, alpha, position).to(per_token_logps.dtype)
        per_token_logps.register_hook(lambda grad: grad * factor)
    return per_token_logps


def refusals(args) -> list[Finding]:
    """Options under which ms-swift's aggregation is not bnpo's (1/N) Σ ℓ over the same mask."""
    found = []
    loss_type = getattr(args, "loss_type", None)
    loss_type = loss_type[0] if isinstance(loss_type, (list, tuple)) and len(loss_type) == 1 else loss_type
    if loss_type != "bnpo":
        found.append(Finding(f"--loss_type {loss_type}", f"must be bnpo: {DOCS_REASON}"))
    if getattr(args, "padding_free", False):
        found.append(Finding("--padding_free true", f"refused: {DOCS_REASON} (one row per completion)"))
    if getattr(args, "overlong_filter", False):
        found.append(Finding("--overlong_filter true", f"refused: {DOCS_REASON} (the mask it changes)"))
    if getattr(args, "importance_sampling_level", "token") != "token":
        found.append(Finding(f"--importance_sampling_level {args.importance_sampling_level}",
                             f"must be token: {DOCS_REASON}"))
    if getattr(args, "off_policy_sequence_mask_delta", None) is not None:
        found.append(Finding("--off_policy_sequence_mask_delta", f"refused: {DOCS_REASON} (the mask it changes)"))
    installed = version("ms-swift")
    if not any(installed.split(".")[:2] == v.split(".") for v in SWIFT_VERSIONS):
        found.append(Finding(f"ms-swift {installed}", f"{DOCS_REASON}, and it reads ms-swift "
                             f"{'/'.join(SWIFT_VERSIONS)}'s loss; check grpo_trainer.py's aggregation first"))
    return found


def configure(args) -> float | None:
    """Check the options and install the term when ``AUDIO_THINKER_DECISION_ALPHA`` is set (idempotent)."""
    alpha = alpha_from_env()
    if alpha is None:
        return None
    refuse(refusals(args))
    install(alpha)
    return alpha


def install(alpha: float) -> None:
    from swift.rlhf_trainers.grpo_trainer import GRPOTrainer

    original = GRPOTrainer._get_per_token_logps_and_entropies
    installed = getattr(original, "_audio_thinker_alpha", None)
    if installed == alpha:   # every reward class configures it; once is enough
        return
    if installed is not None:
        original = original.__wrapped__

    @functools.wraps(original)
    def _get_per_token_logps_and_entropies(self, model, model_inputs, grpo_batch, *args, **kwargs):
        logps, entropies = original(self, model, model_inputs, grpo_batch, *args, **kwargs)
        if self.model.training:
            mask = grpo_batch.completion_mask
            if tuple(mask.shape) != tuple(logps.shape):
                raise RuntimeError(f"{ENV}: log-probabilities {tuple(logps.shape)} and completion mask "
                                   f"{tuple(mask.shape)} differ in shape: ms-swift's layout is not the one checked")
            if getattr(self, "_audio_thinker_decision_position", None) is None:   # once: the tokenizer is fixed
                tokenizer = getattr(self.processing_class, "tokenizer", self.processing_class)
                self._audio_thinker_decision_position = decision_position(tokenizer)
            attach(logps, mask, alpha, self._audio_thinker_decision_position)
            # on the dashboard (logging.jsonl): α at every step whose loss carried the term
            self._metrics["train"]["audio_thinker/decision_alpha"].append(alpha)
        return logps, entropies

    _get_per_token_logps_and_entropies._audio_thinker_alpha = alpha
    GRPOTrainer._get_per_token_logps_and_entropies = _get_per_token_logps_and_entropies
    if os.environ.get("LOCAL_RANK", "0") == "0":
        logger.warning("audio-thinker: decoupled decision-token term on (Thinkless DeGRPO, α = %g; "
                       "docs/rewards.md §11)", alpha)
