"""Direct preference optimisation (Rafailov et al. 2023, "DPO", eq. 7).

Given a prompt ``x``, a preferred answer ``y_w`` and a rejected one ``y_l``, DPO trains the
policy ``pi`` against a frozen reference ``pi_ref`` (the model before preference tuning) with

    L = -log sigmoid( beta * [log pi(y_w|x) - log pi_ref(y_w|x)]
                      - beta * [log pi(y_l|x) - log pi_ref(y_l|x)] ),

the Bradley-Terry likelihood of the preference under the *implicit reward*
``r(x, y) = beta * log(pi(y|x) / pi_ref(y|x))``: the optimum of the KL-regularised reward
maximisation ``max E[r] - beta KL(pi || pi_ref)`` without a reward model or sampling. Larger
``beta`` keeps the policy closer to the reference.

* :func:`dpo_loss` -- the loss from the four sequence log-probabilities;
* :func:`preference_batches` -- the tensors one DPO step needs, with the reference's
  log-probabilities computed once (the reference never changes);
* :func:`train_dpo` -- DPO through the course's one training loop;
* :func:`preference_accuracy` -- how often the implicit reward ranks held-out pairs right;
* :func:`sequence_kl` -- ``KL(pi || pi_ref)`` over the policy's own answers, estimated by
  sampling with the exact per-token KL summed along each sample.

Used in: chapter 7.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.checks import check_int, check_number
from genai_course.core.train import History, fit
from genai_course.finetune.instruction import lm_batch, sequence_log_probs

#: A preference pair: (prompt ids, preferred answer ids, rejected answer ids).
Pair = tuple[Sequence[int], Sequence[int], Sequence[int]]


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor,
             reference_chosen: torch.Tensor, reference_rejected: torch.Tensor,
             beta: float) -> torch.Tensor:
    """Mean over the batch of ``-log sigmoid(beta * ((pc - rc) - (pr - rr)))`` (DPO eq. 7)
    from sequence log-probabilities ``log pi(y|x)`` of shape ``(B,)``; computed as
    ``softplus(-z)``, which is exact and never overflows."""
    beta = check_number(beta, "beta", positive=True)
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return F.softplus(-beta * margin).mean()


def preference_batches(reference: nn.Module, pairs: Sequence[Pair], pad_id: int,
                       batch_size: int = 64) -> tuple[torch.Tensor, ...]:
    """``(chosen_inputs, chosen_targets, rejected_inputs, rejected_targets,
    reference_chosen, reference_rejected)``: the pairs padded to one width (so rows can be
    shuffled together) and the frozen reference's ``log pi_ref(y|x)`` of each answer."""
    if not pairs:
        raise ValueError("pairs must not be empty")
    both = lm_batch([(p, c) for p, c, _ in pairs] + [(p, r) for p, _, r in pairs], pad_id)
    n = len(pairs)
    inputs, targets = both
    device = next(reference.parameters()).device
    logps = []
    was_training = reference.training
    reference.eval()
    with torch.no_grad():
        for s in range(0, 2 * n, batch_size):
            logps.append(sequence_log_probs(reference, inputs[s:s + batch_size].to(device),
                                            targets[s:s + batch_size].to(device)).cpu())
    reference.train(was_training)
    logp = torch.cat(logps)
    return inputs[:n], targets[:n], inputs[n:], targets[n:], logp[:n], logp[n:]


def train_dpo(policy: nn.Module, reference: nn.Module, pairs: Sequence[Pair], pad_id: int,
              beta: float, steps: int, batch_size: int = 16, lr: float = 1e-4, seed: int = 0,
              progress: bool | None = None) -> History:
    """Train ``policy`` (all of its trainable parameters: a LoRA adapter or the full model)
    on ``pairs`` with :func:`dpo_loss` against the frozen ``reference``; records the loss,
    the reward ``margin`` (``beta`` times the log-ratio difference) and the share of pairs
    of the batch ranked right (``accuracy``)."""
    check_int(steps, "steps")
    data = preference_batches(reference, pairs, pad_id)

    def loss_fn(ci: torch.Tensor, ct: torch.Tensor, ri: torch.Tensor, rt: torch.Tensor,
                rc: torch.Tensor, rr: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        logp = sequence_log_probs(policy, torch.cat([ci, ri]), torch.cat([ct, rt]))
        pc, pr = logp[:len(ci)], logp[len(ci):]
        margin = beta * ((pc - rc) - (pr - rr)).detach()
        loss = dpo_loss(pc, pr, rc, rr, beta)
        return loss, {"margin": margin.mean().item(),
                      "accuracy": (margin > 0).float().mean().item()}

    return fit(policy, loss_fn, data, steps=steps, batch_size=batch_size, seed=seed, lr=lr,
               desc=f"DPO (beta = {beta:g})", progress=progress)


@torch.no_grad()
def preference_accuracy(policy: nn.Module, reference: nn.Module, pairs: Sequence[Pair],
                        pad_id: int) -> float:
    """The share of ``pairs`` whose preferred answer gets the larger implicit reward
    ``log pi(y|x) - log pi_ref(y|x)`` (ties count half)."""
    ci, ct, ri, rt, rc, rr = preference_batches(reference, pairs, pad_id)
    device = next(policy.parameters()).device
    policy.eval()
    pc = sequence_log_probs(policy, ci.to(device), ct.to(device)).cpu()
    pr = sequence_log_probs(policy, ri.to(device), rt.to(device)).cpu()
    margin = (pc - rc) - (pr - rr)
    return ((margin > 0).float() + 0.5 * (margin == 0).float()).mean().item()


@torch.no_grad()
def sequence_kl(policy: nn.Module, reference: nn.Module, prompts: Sequence[Sequence[int]],
                stop_id: int, max_new_tokens: int, samples: int = 1, seed: int = 0
                ) -> tuple[float, float]:
    """``KL(pi(.|x) || pi_ref(.|x))`` over whole answers, averaged over ``prompts``: answers
    are sampled from the policy (temperature 1, up to ``stop_id`` or ``max_new_tokens``) and
    the exact per-token KL of the next-token distributions is summed along each (an
    unbiased, low-variance estimate of the sequence KL). Returns ``(mean, standard error)``
    in nats."""
    device = next(policy.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    policy.eval()
    reference.eval()
    values: list[float] = []
    for prompt in prompts:
        idx = torch.tensor([list(prompt)] * samples, device=device)
        out = policy.generate(idx, max_new_tokens, temperature=1.0, generator=generator)
        full = out[:, :-1]
        logp = torch.log_softmax(policy(full), dim=-1)[:, len(prompt) - 1:]
        logq = torch.log_softmax(reference(full), dim=-1)[:, len(prompt) - 1:]
        per_token = (logp.exp() * (logp - logq)).sum(-1)  # KL of each next-token distribution
        answer = out[:, len(prompt):]
        stopped = (answer == stop_id).cumsum(dim=1)  # count tokens up to and with the stop
        alive = (stopped == 0) | ((stopped == 1) & (answer == stop_id))
        values += (per_token * alive).sum(dim=1).tolist()
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)
    return mean, math.sqrt(var / len(values))
