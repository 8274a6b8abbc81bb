"""Alternative correct answers to Chapter 4's exercises, keyed by the answer cell's grade_id:
written the ways students write them (gather, a row loop, numpy, a padded cumulative
product, Ho et al.'s eq. 11 instead of the posterior mean, masked_fill, numpy as in Lin et
al.'s code, the jump's posterior in Python floats). Each must earn full points, in-process
and through the real grading path."""

RIGHT_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_q_sample": {
        "gather and view": '''
def q_sample(x0, t, noise, alphas_cumprod):
    abar = alphas_cumprod.gather(0, t).view(-1, *([1] * (x0.dim() - 1)))
    return (abar.sqrt() * x0 + (1 - abar).sqrt() * noise).to(x0.dtype)
''',
        "one row at a time": '''
def q_sample(x0, t, noise, alphas_cumprod):
    rows = []
    for i in range(x0.shape[0]):
        a = alphas_cumprod[t[i]].item()
        rows.append(math.sqrt(a) * x0[i] + math.sqrt(1 - a) * noise[i])
    return torch.stack(rows).to(x0.dtype)
''',
    },
    "ex2_cosine_schedule": {
        "a list of Python floats": '''
def cosine_alphas_cumprod(T, s=0.008):
    f = [math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2 for t in range(T + 1)]
    return torch.tensor([f[t] / f[0] for t in range(1, T + 1)], dtype=torch.float64)
''',
        "numpy": '''
def cosine_alphas_cumprod(T, s=0.008):
    steps = np.arange(0, T + 1, dtype=np.float64)
    f = np.cos((steps / T + s) / (1 + s) * np.pi / 2) ** 2
    return torch.from_numpy(f[1:] / f[0])
''',
    },
    "ex3_posterior_mean": {
        "cumulative product padded with abar_{-1} = 1": '''
def posterior_mean(x0, x_t, t, betas):
    alphas = 1.0 - betas
    abar = torch.cat([torch.ones(1, dtype=betas.dtype), torch.cumprod(alphas, 0)])
    ab_t, ab_prev = abar[t + 1], abar[t]
    return (ab_prev.sqrt() * betas[t] * x0 + alphas[t].sqrt() * (1 - ab_prev) * x_t) / (1 - ab_t)
''',
        "Python floats and math.prod": '''
def posterior_mean(x0, x_t, t, betas):
    b = betas.tolist()
    ab_prev = math.prod(1 - v for v in b[:t])
    ab_t = ab_prev * (1 - b[t])
    c0 = math.sqrt(ab_prev) * b[t] / (1 - ab_t)
    ct = math.sqrt(1 - b[t]) * (1 - ab_prev) / (1 - ab_t)
    return c0 * x0 + ct * x_t
''',
    },
    "ex5_ddpm_step": {
        "Ho et al.'s eq. 11 for the mean": '''
def ddpm_step(x_t, eps, t, betas, noise):
    alphas = 1 - betas
    abar = torch.cumprod(alphas, dim=0)
    mean = (x_t - betas[t] / torch.sqrt(1 - abar[t]) * eps) / torch.sqrt(alphas[t])
    if t == 0:
        return mean
    var = (1 - abar[t - 1]) / (1 - abar[t]) * betas[t]
    return mean + torch.sqrt(var) * noise
''',
        "posterior_mean at the predicted x0, noise switched off with a factor": '''
def ddpm_step(x_t, eps, t, betas, noise):
    abar = torch.cumprod(1 - betas, 0)
    abar_prev = abar[t - 1] if t > 0 else torch.tensor(1.0, dtype=betas.dtype)
    x0_hat = (x_t - torch.sqrt(1 - abar[t]) * eps) / torch.sqrt(abar[t])
    sigma = torch.sqrt((1 - abar_prev) / (1 - abar[t]) * betas[t])
    return posterior_mean(x0_hat, x_t, t, betas) + (t > 0) * sigma * noise
''',
    },
    "ex4_training_targets": {
        "masked_fill": '''
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    shown = None if labels is None else labels.masked_fill(drop_mask, null_label)
    return q_sample(x0, t, noise, alphas_cumprod), shown, noise
''',
        "a copy with the dropped rows overwritten": '''
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    shown = labels
    if labels is not None:
        shown = labels.clone()
        shown[drop_mask] = null_label
    return q_sample(x0, t, noise, alphas_cumprod), shown, noise.clone()
''',
    },
    "ex6_sampling_moves": {
        "numpy, as in Lin et al.'s code": '''
def sampling_moves(T, k, spacing):
    if spacing == "trailing":
        steps = (np.round(np.arange(T, 0, -T / k)) - 1).astype(int)[:k].tolist()
    else:
        steps = (np.arange(0, k) * (T // k))[::-1].tolist()
    return [(int(a), int(b)) for a, b in zip(steps, steps[1:] + [-1])]
''',
        "a range for leading, a loop of pairs": '''
def sampling_moves(T, k, spacing):
    if spacing == "leading":
        steps = list(range(0, T, T // k))[:k][::-1]
    else:
        steps = [round(T - i * T / k) - 1 for i in range(k)]
    moves = []
    for i, t in enumerate(steps):
        moves.append((t, steps[i + 1] if i + 1 < k else -1))
    return moves
''',
    },
    "ex7_ddim_step": {
        "the jump's posterior, written as DDPM's with alpha = abar_t / abar_prev": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    a_t = alphas_cumprod[t].item()
    a_prev = alphas_cumprod[t_prev].item() if t_prev >= 0 else 1.0
    beta_jump = 1 - a_t / a_prev
    var = eta**2 * (1 - a_prev) / (1 - a_t) * beta_jump
    x0_hat = (x_t - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
    out = math.sqrt(a_prev) * x0_hat + math.sqrt(max(1 - a_prev - var, 0.0)) * eps
    if eta == 0:
        return out
    return out + math.sqrt(var) * noise
''',
        "padded abar, noise term multiplied by zero at eta = 0": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    abar = torch.cat([torch.ones(1, dtype=alphas_cumprod.dtype), alphas_cumprod])
    a_t, a_prev = abar[t + 1], abar[t_prev + 1]
    sigma = eta * torch.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
    x0_hat = (x_t - torch.sqrt(1 - a_t) * eps) / torch.sqrt(a_t)
    z = torch.zeros_like(x_t) if noise is None else noise
    return torch.sqrt(a_prev) * x0_hat + torch.sqrt(1 - a_prev - sigma**2) * eps + sigma * z
''',
    },
}
