"""Alternative correct answers to Chapter 2's exercises, keyed by the answer cell's grade_id:
written the ways students write them (another formula, torch.distributions, logsigmoid,
torch.where, addcmul). Each must earn full points, in-process and through real grading."""

RIGHT_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_reparameterize": {
        "addcmul with the standard deviation": '''
def reparameterize(mu, logvar, eps):
    return torch.addcmul(mu, torch.exp(logvar / 2), eps)
''',
        "square root of the variance": '''
def reparameterize(mu, logvar, eps):
    std = torch.sqrt(torch.exp(logvar))
    return eps * std + mu
''',
    },
    "ex2_gaussian_kl": {
        "Kingma and Welling's sign convention": '''
def gaussian_kl(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar), dim=1)
''',
        "through the standard deviation, dimension by dimension": '''
def gaussian_kl(mu, logvar):
    sigma = torch.exp(0.5 * logvar)
    total = torch.zeros(mu.shape[0], dtype=mu.dtype)
    for j in range(mu.shape[1]):
        total = total + 0.5 * (sigma[:, j] ** 2 + mu[:, j] ** 2 - 1) - torch.log(sigma[:, j])
    return total
''',
    },
    "ex3_negative_elbo": {
        "torch.distributions.Normal for the reconstruction": '''
from torch.distributions import Normal
def negative_elbo(x, x_mean, log_scale, mu, logvar):
    log_px = Normal(x_mean, torch.exp(log_scale)).log_prob(x)
    log_px = log_px.reshape(x.shape[0], -1).sum(dim=1)
    return torch.mean(gaussian_kl(mu, logvar) - log_px)
''',
        "squared error over the variance, summed with a view": '''
def negative_elbo(x, x_mean, log_scale, mu, logvar):
    n = x.shape[0]
    sq = ((x - x_mean) ** 2).view(n, -1).sum(1)
    D = x[0].numel()
    nll = sq / (2 * torch.exp(log_scale) ** 2) + D * (log_scale + 0.5 * math.log(2 * math.pi))
    return (nll + gaussian_kl(mu, logvar)).sum() / n
''',
    },
    "ex4_discriminator_loss": {
        "binary cross-entropy with logits": '''
def discriminator_loss(real_logits, fake_logits):
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake
''',
        "logsigmoid": '''
def discriminator_loss(real_logits, fake_logits):
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())
''',
    },
    "ex5_generator_loss": {
        "binary cross-entropy against the label real": '''
def generator_loss(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
''',
        "minus the log-sigmoid": '''
def generator_loss(fake_logits):
    return -F.logsigmoid(fake_logits).mean()
''',
        "softplus written out stably, with torch.where": '''
def generator_loss(fake_logits):
    l = fake_logits
    per_example = torch.where(l > 0, torch.log1p(torch.exp(-l)), -l + torch.log1p(torch.exp(l)))
    return per_example.sum() / l.numel()
''',
    },
    "ex6_coupling_forward": {
        "torch.where on the mask": '''
def coupling_forward(x, mask, s, t):
    keep = mask.bool()
    y = torch.where(keep, x, x * torch.exp(s) + t)
    log_det = torch.where(keep, torch.zeros_like(s), s).sum(dim=-1)
    return y, log_det
''',
        "scale and shift masked first": '''
def coupling_forward(x, mask, s, t):
    inv = 1 - mask
    s_used = s * inv
    y = x * torch.exp(s_used) + t * inv
    return y, s_used.sum(1)
''',
    },
    "ex7_coupling_inverse": {
        "torch.where on the mask": '''
def coupling_inverse(y, mask, s, t):
    keep = mask.bool()
    x = torch.where(keep, y, (y - t) / torch.exp(s))
    log_det = -torch.where(keep, torch.zeros_like(s), s).sum(dim=-1)
    return x, log_det
''',
        "one coordinate at a time": '''
def coupling_inverse(y, mask, s, t):
    x = y.clone()
    log_det = torch.zeros(y.shape[0], dtype=y.dtype)
    for j in range(y.shape[1]):
        if mask[j] == 0:
            x[:, j] = (y[:, j] - t[:, j]) * torch.exp(-s[:, j])
            log_det = log_det - s[:, j]
    return x, log_det
''',
    },
    "ex8_langevin_step": {
        "numpy square root": '''
import numpy as np
def langevin_step(x, score_x, step_size, noise):
    return x + step_size / 2 * score_x + np.sqrt(step_size) * noise
''',
        "power one half, as in the update's derivation": '''
def langevin_step(x, score_x, step_size, noise):
    drift = score_x * (0.5 * step_size)
    return torch.add(x + drift, noise, alpha=step_size ** 0.5)
''',
    },
}
