"""Alternative correct answers to Chapter 4's exercises, keyed by the answer cell's grade_id:
written the ways students write them (gather, a row loop, numpy, a padded cumulative
product, Ho et al.'s eq. 11 instead of the posterior mean, masked_fill, a while loop, the
jump's posterior in Python floats). Each must earn full
points, in-process and through the real grading path."""

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
    "ex4_denoising_loss": {
        "masked_fill and F.mse_loss": '''
import torch.nn.functional as F
def denoising_loss(eps_model, x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    shown = None if labels is None else labels.masked_fill(drop_mask, null_label)
    return F.mse_loss(eps_model(q_sample(x0, t, noise, alphas_cumprod), t, shown), noise)
''',
        "a copy with the dropped rows overwritten, the mean written out": '''
def denoising_loss(eps_model, x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    shown = labels
    if labels is not None:
        shown = labels.clone()
        shown[drop_mask] = null_label
    err = eps_model(x_t, t, shown) - noise
    return (err * err).sum() / err.numel()
''',
    },
    "ex6_sample_loop": {
        "a while loop over the indices": '''
def sample_loop(step_fn, eps_fn, x_T, timesteps):
    steps, x, i = list(timesteps), x_T, 0
    while i < len(steps):
        t = steps[i]
        t_prev = -1 if i == len(steps) - 1 else steps[i + 1]
        x = step_fn(x, eps_fn(x, t), t, t_prev)
        i += 1
    return x
''',
        "zip with the list shifted by one": '''
def sample_loop(step_fn, eps_fn, x_T, timesteps):
    x = x_T.clone()
    for t, t_prev in zip(timesteps, list(timesteps[1:]) + [-1]):
        eps = eps_fn(x, t)
        x = step_fn(x, eps, t, t_prev)
    return x
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
