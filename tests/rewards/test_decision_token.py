"""The decoupled decision-token term (Thinkless DeGRPO, docs/rewards.md §11): on a tiny model, the gradient of
ms-swift's bnpo loss with the term attached is the gradient of Eq. D1 written out here, and the decision
token's own gradient is α/B times its per-token loss's derivative."""
import types

import pytest
import torch

from swift_plugins import decision_token

ALPHA = 0.1


def tiny_policy(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Embedding(11, 6), torch.nn.Tanh(), torch.nn.Linear(6, 11))


def batch():
    """4 completions of 1, 3, 6 and 2 tokens, right-padded to 6 (ms-swift's completion layout)."""
    torch.manual_seed(1)
    ids = torch.randint(0, 11, (4, 6))
    mask = torch.zeros(4, 6, dtype=torch.bool)
    for row, length in enumerate((1, 3, 6, 2)):
        mask[row, :length] = True
    advantages = torch.tensor([[1.5], [-0.5], [0.25], [-1.25]]).expand(4, 6)
    return ids, mask, advantages


def per_token_logps(model, ids):
    inputs = torch.roll(ids, 1, dims=1)   # each token predicted from the one before it
    return torch.log_softmax(model(inputs), -1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)


def per_token_loss(logps, old, ref, advantages, beta=0.04, eps=0.2):
    """ms-swift 4.6's per-token term: -min(ρA, clip(ρ)A) + β·KL(ref‖π) (k3 estimator)."""
    ratio = torch.exp(logps - old)
    pg = -torch.min(ratio * advantages, torch.clamp(ratio, 1 - eps, 1 + eps) * advantages)
    kl = torch.exp(ref - logps) - (ref - logps) - 1
    return pg + beta * kl


def grads(loss, model):
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in model.parameters()]


def test_bnpo_with_the_term_has_the_gradient_of_eq_d1():
    ids, mask, adv = batch()
    model = tiny_policy()
    with torch.no_grad():
        old = per_token_logps(model, ids) + 0.05   # an older policy: ratios away from 1, some clipped
        ref = per_token_logps(tiny_policy(seed=3), ids)
    # ms-swift's bnpo aggregation, (1/N) Σ m ℓ, with the factor attached to the log-probabilities
    logps = decision_token.attach(per_token_logps(model, ids), mask, ALPHA)
    got = grads((per_token_loss(logps, old, ref, adv) * mask).sum() / mask.sum(), model)
    # Eq. D1 written out: α · mean over completions of the first token's loss + mean over the later tokens
    loss = per_token_loss(per_token_logps(model, ids), old, ref, adv)
    first = torch.zeros_like(mask)
    first[:, 0] = True
    later = mask & ~first
    eq_d1 = ALPHA * loss[first].mean() + loss[later].sum() / later.sum()
    want = grads(eq_d1, model)
    for g, w in zip(got, want):
        assert torch.allclose(g, w, atol=1e-7), (g - w).abs().max()
    # and it is not bnpo's own gradient (the term changes training)
    plain = grads((per_token_loss(per_token_logps(model, ids), old, ref, adv) * mask).sum() / mask.sum(), model)
    assert not all(torch.allclose(g, p, atol=1e-6) for g, p in zip(got, plain))


def test_the_decision_token_s_gradient_is_alpha_over_b_times_its_loss_derivative():
    ids, mask, adv = batch()
    logps = per_token_logps(tiny_policy(), ids).detach().requires_grad_(True)
    decision_token.attach(logps, mask, ALPHA)
    # on-policy (ρ = 1), β = 0: ℓ_{i,t} = -A_i·ρ, so ∂ℓ/∂logp = -A_i, and bnpo's factor alone would be 1/N
    ((per_token_loss(logps, logps.detach(), logps.detach(), adv, beta=0.0) * mask).sum() / mask.sum()).backward()
    b, n_later = 4, int(mask.sum()) - 4
    assert torch.allclose(logps.grad[:, 0], -adv[:, 0] * ALPHA / b)
    assert torch.allclose(logps.grad[2, 1:], -adv[2, 1:] / n_later)       # a later token: 1/N_r
    assert torch.all(logps.grad[~mask] == 0)                                 # padding: nothing


def test_weights_follow_the_first_real_token_of_each_row():
    mask = torch.tensor([[False, True, True], [True, False, False], [False, False, False]])
    w = decision_token.decoupled_weights(mask, 0.5)
    assert w.tolist() == [[0.0, 0.25, 1.0], [0.25, 0.0, 0.0], [0.0, 0.0, 0.0]]   # B = 2, N_r = 1


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_a_bad_alpha_is_refused_in_one_line(value, capsys):
    with pytest.raises(SystemExit):
        decision_token.alpha_from_env({decision_token.ENV: value})
    assert capsys.readouterr().err.count("\n") == 1


def test_options_under_which_the_factor_is_not_eq_d1_are_refused():
    good = types.SimpleNamespace(loss_type="bnpo", padding_free=False, overlong_filter=False,
                                 importance_sampling_level="token", off_policy_sequence_mask_delta=None)
    assert decision_token.refusals(good) == []
    bad = types.SimpleNamespace(**{**vars(good), "loss_type": "grpo", "overlong_filter": True})
    assert [f.option for f in decision_token.refusals(bad)] == ["--loss_type grpo", "--overlong_filter true"]
    assert decision_token.alpha_from_env({}) is None   # unset: off, nothing installed


def test_the_decision_token_can_come_after_a_shared_prefix():
    """Completions of 1, 3 and 2 tokens with the decision at position 1 (after a shared '<'): the one-token
    completion has no decision token and is not counted in B."""
    mask = torch.tensor([[True, False, False], [True, True, True], [True, True, False]])
    w = decision_token.decoupled_weights(mask, 0.5, position=1)
    # B = 2 (rows 1 and 2), N_r = 6 - 2 = 4
    assert w.tolist() == [[0.25, 0.0, 0.0], [0.25, 0.25, 0.25], [0.25, 0.25, 0.0]]


@pytest.mark.judge
def test_the_decision_position_is_where_the_two_openings_part(tiny_checkpoints):
    """One token each (the tiny checkpoints' vocabulary): position 0. A byte-level BPE (the local judge's
    SmolLM2 tokenizer, a real one) splits both openings as '<' + word + '>': the shared '<' decides nothing."""
    from transformers import AutoTokenizer

    from tests.helpers.paths import CACHE

    tiny = AutoTokenizer.from_pretrained(tiny_checkpoints / "qwen2-audio")
    assert decision_token.decision_position(tiny) == 0
    bpe = AutoTokenizer.from_pretrained(CACHE / "judge" / "smollm2-135m-instruct")
    assert bpe.tokenize("<think>")[0] == bpe.tokenize("<answer>")[0]   # the premise, as this tokenizer has it
    assert decision_token.decision_position(bpe) == 1
