"""Alternative correct answers to Chapter 4's exercises, keyed by the answer cell's grade_id:
written the ways students write them (gather, a row loop, numpy, a padded cumulative
product, Ho et al.'s eq. 11 instead of the posterior mean, torch.lerp). Each must earn full
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
    "ex4_ddpm_step": {
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
    "ex5_ddim_step": {
        "one formula in x_t and eps": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod):
    a_t = alphas_cumprod[t].item()
    a_prev = alphas_cumprod[t_prev].item() if t_prev >= 0 else 1.0
    coef_eps = math.sqrt(1 - a_prev) - math.sqrt(a_prev * (1 - a_t) / a_t)
    return math.sqrt(a_prev / a_t) * x_t + coef_eps * eps
''',
        "padded abar indexed by t + 1": '''
def ddim_step(x_t, eps, t, t_prev, alphas_cumprod):
    abar = torch.cat([torch.ones(1, dtype=alphas_cumprod.dtype), alphas_cumprod])
    a_t, a_prev = abar[t + 1], abar[t_prev + 1]
    x0_hat = (x_t - torch.sqrt(1 - a_t) * eps) / torch.sqrt(a_t)
    return torch.sqrt(a_prev) * x0_hat + torch.sqrt(1 - a_prev) * eps
''',
    },
    "ex6_guided_eps": {
        "torch.lerp": '''
def guided_eps(eps_uncond, eps_cond, w):
    return torch.lerp(eps_uncond, eps_cond, w)
''',
        "a weighted sum": '''
def guided_eps(eps_uncond, eps_cond, w):
    return (1 - w) * eps_uncond + w * eps_cond
''',
    },
}
