"""Wrong answers to Chapter 4's exercises, keyed by the answer cell's grade_id."""

WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_q_sample": {
        "missing square roots (variances used as weights)": '''
def q_sample(x0, t, noise, alphas_cumprod):
    abar = alphas_cumprod[t].reshape(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return abar * x0 + (1 - abar) * noise
''',
        "abar index off by one (t + 1)": '''
def q_sample(x0, t, noise, alphas_cumprod):
    idx = (t + 1).clamp(max=len(alphas_cumprod) - 1)
    abar = alphas_cumprod[idx].reshape(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise
''',
        "abar index off by one (t - 1)": '''
def q_sample(x0, t, noise, alphas_cumprod):
    abar = alphas_cumprod[t - 1].reshape(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise
''',
        "signal and noise weights swapped": '''
def q_sample(x0, t, noise, alphas_cumprod):
    abar = alphas_cumprod[t].reshape(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return (1 - abar).sqrt() * x0 + abar.sqrt() * noise
''',
        "one step for the whole batch (the first row's)": '''
def q_sample(x0, t, noise, alphas_cumprod):
    abar = alphas_cumprod[t[0]].to(x0.dtype)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise
''',
        "returns float64 for float32 input": '''
def q_sample(x0, t, noise, alphas_cumprod):
    abar = alphas_cumprod[t].reshape(-1, *([1] * (x0.dim() - 1)))
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise
''',
        "calls the package": '''
from genai_course.diffusion import NoiseSchedule
def q_sample(x0, t, noise, alphas_cumprod):
    prev = torch.cat([torch.ones(1, dtype=alphas_cumprod.dtype), alphas_cumprod[:-1]])
    return NoiseSchedule(1 - alphas_cumprod / prev).q_sample(x0, t, noise)
''',
    },
    "ex2_cosine_schedule": {
        "t = 0 .. T-1 (off by one: starts at 1.0)": '''
def cosine_alphas_cumprod(T, s=0.008):
    f = lambda t: torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    t = torch.arange(0, T, dtype=torch.float64)
    return f(t) / f(torch.zeros((), dtype=torch.float64))
''',
        "cosine not squared": '''
def cosine_alphas_cumprod(T, s=0.008):
    f = lambda t: torch.cos((t / T + s) / (1 + s) * math.pi / 2)
    t = torch.arange(1, T + 1, dtype=torch.float64)
    return f(t) / f(torch.zeros((), dtype=torch.float64))
''',
        "not normalised by f(0)": '''
def cosine_alphas_cumprod(T, s=0.008):
    f = lambda t: torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    return f(torch.arange(1, T + 1, dtype=torch.float64))
''',
        "offset s missing from the denominator": '''
def cosine_alphas_cumprod(T, s=0.008):
    f = lambda t: torch.cos((t / T + s) * math.pi / 2) ** 2
    t = torch.arange(1, T + 1, dtype=torch.float64)
    return f(t) / f(torch.zeros((), dtype=torch.float64))
''',
        "float32 result": '''
def cosine_alphas_cumprod(T, s=0.008):
    f = lambda t: torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    t = torch.arange(1, T + 1, dtype=torch.float32)
    return f(t) / f(torch.zeros(()))
''',
        "calls the package": '''
from genai_course.diffusion import NoiseSchedule
def cosine_alphas_cumprod(T, s=0.008):
    return NoiseSchedule.cosine(T, s=s).alphas_cumprod
''',
    },
    "ex3_posterior_mean": {
        "abar[t - 1] at t = 0 (wraps around to the last step)": '''
def posterior_mean(x0, x_t, t, betas):
    alphas = 1 - betas
    abar = torch.cumprod(alphas, dim=0)
    abar_prev = abar[t - 1]
    return (abar_prev.sqrt() * betas[t] / (1 - abar[t]) * x0
            + alphas[t].sqrt() * (1 - abar_prev) / (1 - abar[t]) * x_t)
''',
        "abar_t used where abar_{t-1} belongs (index off by one)": '''
def posterior_mean(x0, x_t, t, betas):
    alphas = 1 - betas
    abar = torch.cumprod(alphas, dim=0)
    abar_prev = abar[t]
    return (abar_prev.sqrt() * betas[t] / (1 - abar[t]) * x0
            + alphas[t].sqrt() * (1 - abar_prev) / (1 - abar[t]) * x_t)
''',
        "sqrt(abar_t) instead of sqrt(alpha_t) on x_t": '''
def posterior_mean(x0, x_t, t, betas):
    alphas = 1 - betas
    abar = torch.cumprod(alphas, dim=0)
    abar_prev = abar[t - 1] if t > 0 else torch.ones((), dtype=betas.dtype)
    return (abar_prev.sqrt() * betas[t] / (1 - abar[t]) * x0
            + abar[t].sqrt() * (1 - abar_prev) / (1 - abar[t]) * x_t)
''',
        "missing square roots": '''
def posterior_mean(x0, x_t, t, betas):
    alphas = 1 - betas
    abar = torch.cumprod(alphas, dim=0)
    abar_prev = abar[t - 1] if t > 0 else torch.ones((), dtype=betas.dtype)
    return (abar_prev * betas[t] / (1 - abar[t]) * x0
            + alphas[t] * (1 - abar_prev) / (1 - abar[t]) * x_t)
''',
        "coefficients of x0 and x_t swapped": '''
def posterior_mean(x0, x_t, t, betas):
    alphas = 1 - betas
    abar = torch.cumprod(alphas, dim=0)
    abar_prev = abar[t - 1] if t > 0 else torch.ones((), dtype=betas.dtype)
    return (abar_prev.sqrt() * betas[t] / (1 - abar[t]) * x_t
            + alphas[t].sqrt() * (1 - abar_prev) / (1 - abar[t]) * x0)
''',
        "calls the package": '''
from genai_course.diffusion import NoiseSchedule
def posterior_mean(x0, x_t, t, betas):
    return NoiseSchedule(betas).posterior_mean(x0, t, x_t)
''',
    },
    "ex4_training_targets": {
        "targets x0 instead of the noise": '''
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    if labels is not None:
        labels = torch.where(drop_mask, torch.full_like(labels, null_label), labels)
    return x_t, labels, x0
''',
        "mask inverted: drops the kept labels and keeps the dropped ones": '''
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    if labels is not None:
        labels = torch.where(drop_mask, labels, torch.full_like(labels, null_label))
    return x_t, labels, noise
''',
        "labels leak: no dropout at all": '''
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    return q_sample(x0, t, noise, alphas_cumprod), labels, noise
''',
        "dropped labels set to 0 (a real digit) by multiplying with the mask": '''
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    if labels is not None:
        labels = labels * (~drop_mask)
    return x_t, labels, noise
''',
        "drops every label when any row is masked": '''
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    if labels is not None and drop_mask.any():
        labels = torch.full_like(labels, null_label)
    return x_t, labels, noise
''',
        "the network sees the clean data": '''
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    if labels is not None:
        labels = torch.where(drop_mask, torch.full_like(labels, null_label), labels)
    return x0, labels, noise
''',
        "overwrites the caller's labels in place": '''
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    if labels is not None:
        labels[drop_mask] = null_label
    return x_t, labels, noise
''',
        "calls the package": '''
from genai_course.diffusion import training_targets as _targets
def training_targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label):
    return _targets(x0, labels, t, noise, alphas_cumprod, drop_mask, null_label)
''',
    },
    "ex5_ddpm_step": {
        "variance instead of standard deviation": '''
def ddpm_step(x_t, eps, t, betas, noise):
    abar = torch.cumprod(1 - betas, dim=0)
    x0_hat = (x_t - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()
    mean = posterior_mean(x0_hat, x_t, t, betas)
    if t == 0:
        return mean
    return mean + (1 - abar[t - 1]) / (1 - abar[t]) * betas[t] * noise
''',
        "noise added at t = 0": '''
def ddpm_step(x_t, eps, t, betas, noise):
    abar = torch.cumprod(1 - betas, dim=0)
    x0_hat = (x_t - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()
    abar_prev = abar[t - 1] if t > 0 else abar[0]
    beta_tilde = (1 - abar_prev) / (1 - abar[t]) * betas[t] if t > 0 else betas[0]
    return posterior_mean(x0_hat, x_t, t, betas) + beta_tilde.sqrt() * noise
''',
        "sigma_t^2 = beta_t instead of beta_tilde_t": '''
def ddpm_step(x_t, eps, t, betas, noise):
    abar = torch.cumprod(1 - betas, dim=0)
    x0_hat = (x_t - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()
    mean = posterior_mean(x0_hat, x_t, t, betas)
    if t == 0:
        return mean
    return mean + betas[t].sqrt() * noise
''',
        "predicted x0 without square roots": '''
def ddpm_step(x_t, eps, t, betas, noise):
    abar = torch.cumprod(1 - betas, dim=0)
    x0_hat = (x_t - (1 - abar[t]) * eps) / abar[t]
    mean = posterior_mean(x0_hat, x_t, t, betas)
    if t == 0:
        return mean
    return mean + ((1 - abar[t - 1]) / (1 - abar[t]) * betas[t]).sqrt() * noise
''',
        "calls the package": '''
from genai_course.diffusion import DDPM, NoiseSchedule
def ddpm_step(x_t, eps, t, betas, noise):
    return DDPM(NoiseSchedule(betas)).step(eps, t, t - 1, x_t, noise=noise)
''',
    },
    "ex6_sampling_moves": {
        "leading steps in increasing order": '''
def sampling_moves(T, k, spacing):
    if spacing == "leading":
        steps = [i * (T // k) for i in range(k)]
    else:
        steps = [round(T - i * T / k) - 1 for i in range(k)]
    return list(zip(steps, steps[1:] + [-1]))
''',
        "trailing truncated with int() instead of rounded": '''
def sampling_moves(T, k, spacing):
    if spacing == "leading":
        steps = [i * (T // k) for i in range(k - 1, -1, -1)]
    else:
        steps = [int(T - i * T / k) - 1 for i in range(k)]
    return list(zip(steps, steps[1:] + [-1]))
''',
        "trailing starts at T (no - 1)": '''
def sampling_moves(T, k, spacing):
    if spacing == "leading":
        steps = [i * (T // k) for i in range(k - 1, -1, -1)]
    else:
        steps = [min(round(T - i * T / k), T - 1) for i in range(k)]
    return list(zip(steps, steps[1:] + [-1]))
''',
        "leading with a float stride, rounded": '''
def sampling_moves(T, k, spacing):
    if spacing == "leading":
        steps = [round(i * T / k) for i in range(k - 1, -1, -1)]
    else:
        steps = [round(T - i * T / k) - 1 for i in range(k)]
    return list(zip(steps, steps[1:] + [-1]))
''',
        "the last move goes to 0 instead of -1": '''
def sampling_moves(T, k, spacing):
    if spacing == "leading":
        steps = [i * (T // k) for i in range(k - 1, -1, -1)]
    else:
        steps = [round(T - i * T / k) - 1 for i in range(k)]
    return list(zip(steps, steps[1:] + [0]))
''',
        "no move to clean data (k - 1 moves)": '''
def sampling_moves(T, k, spacing):
    if spacing == "leading":
        steps = [i * (T // k) for i in range(k - 1, -1, -1)]
    else:
        steps = [round(T - i * T / k) - 1 for i in range(k)]
    return list(zip(steps[:-1], steps[1:]))
''',
        "every move goes to t - 1": '''
def sampling_moves(T, k, spacing):
    if spacing == "leading":
        steps = [i * (T // k) for i in range(k - 1, -1, -1)]
    else:
        steps = [round(T - i * T / k) - 1 for i in range(k)]
    return [(t, t - 1) for t in steps]
''',
        "calls the package": '''
from genai_course.diffusion import sampling_moves as _moves
def sampling_moves(T, k, spacing):
    return _moves(T, k, spacing)
''',
    },
    "ex7_ddim_step": {
        "alphas_cumprod[-1] at t_prev = -1 (wraps around instead of 1)": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    a_t, a_prev = alphas_cumprod[t], alphas_cumprod[t_prev]
    x0_hat = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).sqrt()
    out = a_prev.sqrt() * x0_hat + (1 - a_prev - sigma**2).sqrt() * eps
    return out + sigma * noise if eta > 0 else out
''',
        "eta = 1 with the jump's beta instead of its beta_tilde": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    a_t = alphas_cumprod[t]
    a_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones((), dtype=alphas_cumprod.dtype)
    x0_hat = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    sigma = eta * (1 - a_t / a_prev).sqrt()
    out = a_prev.sqrt() * x0_hat + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
    return out + sigma * noise if eta > 0 else out
''',
        "sigma set to the variance (no square root)": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    a_t = alphas_cumprod[t]
    a_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones((), dtype=alphas_cumprod.dtype)
    x0_hat = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    sigma = eta * (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    out = a_prev.sqrt() * x0_hat + (1 - a_prev - sigma**2).sqrt() * eps
    return out + sigma * noise if eta > 0 else out
''',
        "fresh noise added without shrinking the eps direction": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    a_t = alphas_cumprod[t]
    a_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones((), dtype=alphas_cumprod.dtype)
    x0_hat = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).sqrt()
    out = a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps
    return out + sigma * noise if eta > 0 else out
''',
        "ratio inverted: (1 - abar_t) / (1 - abar_prev)": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    a_t = alphas_cumprod[t]
    a_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones((), dtype=alphas_cumprod.dtype)
    x0_hat = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    sigma = eta * ((1 - a_t) / (1 - a_prev).clamp(min=1e-12) * (1 - a_t / a_prev)).sqrt()
    out = a_prev.sqrt() * x0_hat + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
    return out + sigma * noise if eta > 0 else out
''',
        "ignores eta (always deterministic)": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    a_t = alphas_cumprod[t]
    a_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones((), dtype=alphas_cumprod.dtype)
    x0_hat = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    return a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps
''',
        "calls the package": '''
from genai_course.diffusion import DDIM, NoiseSchedule
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    sampler = DDIM(NoiseSchedule.from_alphas_cumprod(alphas_cumprod), eta=eta)
    return sampler.step(eps, t, t_prev, x_t, noise=noise)
''',
    },
}
