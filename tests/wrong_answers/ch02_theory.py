"""Wrong answers to Chapter 2's exercises, keyed by the answer cell's grade_id."""

WRONG_ANSWERS: dict[str, dict[str, str]] = {
    "ex1_reparameterize": {
        "log-variance used as the standard deviation": '''
def reparameterize(mu, logvar, eps):
    return mu + logvar * eps
''',
        "exp(logvar) (the variance) used as the standard deviation": '''
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(logvar) * eps
''',
        "detached sample (no gradient)": '''
def reparameterize(mu, logvar, eps):
    return (mu + torch.exp(0.5 * logvar) * eps).detach()
''',
        "calls the package": '''
from genai_course.generative import vae
def reparameterize(mu, logvar, eps):
    torch.manual_seed(0)
    return vae.reparameterize(mu, logvar)
''',
    },
    "ex2_gaussian_kl": {
        "wrong sign of the log-variance term": '''
def gaussian_kl(mu, logvar):
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 + logvar).sum(dim=-1)
''',
        "missing the factor 1/2": '''
def gaussian_kl(mu, logvar):
    return (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=-1)
''',
        "mean over latent dimensions instead of the sum": '''
def gaussian_kl(mu, logvar):
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).mean(dim=-1)
''',
        "log-variance used as the variance": '''
def gaussian_kl(mu, logvar):
    return 0.5 * (logvar + mu.pow(2) - 1.0 - torch.log(logvar.abs() + 1e-12)).sum(dim=-1)
''',
        "calls the package": '''
from genai_course.generative.vae import gaussian_kl as _kl
def gaussian_kl(mu, logvar):
    return _kl(mu, logvar)
''',
    },
    "ex3_negative_elbo": {
        "KL subtracted instead of added": '''
def negative_elbo(x, x_mean, log_scale, mu, logvar):
    nll = ((x - x_mean) ** 2 / (2 * torch.exp(2 * log_scale))
           + log_scale + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
    return (nll - gaussian_kl(mu, logvar)).mean()
''',
        "plain MSE reconstruction": '''
def negative_elbo(x, x_mean, log_scale, mu, logvar):
    return (((x - x_mean) ** 2).flatten(1).sum(1) + gaussian_kl(mu, logvar)).mean()
''',
        "mean over pixels instead of the sum": '''
def negative_elbo(x, x_mean, log_scale, mu, logvar):
    nll = ((x - x_mean) ** 2 / (2 * torch.exp(2 * log_scale))
           + log_scale + 0.5 * math.log(2 * math.pi)).flatten(1).mean(1)
    return (nll + gaussian_kl(mu, logvar)).mean()
''',
        "scale used as the variance": '''
def negative_elbo(x, x_mean, log_scale, mu, logvar):
    nll = ((x - x_mean) ** 2 / (2 * torch.exp(log_scale))
           + 0.5 * log_scale + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
    return (nll + gaussian_kl(mu, logvar)).mean()
''',
        "missing the log-scale term of the normaliser": '''
def negative_elbo(x, x_mean, log_scale, mu, logvar):
    nll = ((x - x_mean) ** 2 / (2 * torch.exp(2 * log_scale))
           + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
    return (nll + gaussian_kl(mu, logvar)).mean()
''',
        "calls the package": '''
from genai_course.generative.vae import negative_elbo as _ne
def negative_elbo(x, x_mean, log_scale, mu, logvar):
    return _ne(x, x_mean, log_scale, mu, logvar)
''',
    },
    "ex4_discriminator_loss": {
        "BCE on probabilities (overflows)": '''
def discriminator_loss(real_logits, fake_logits):
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    return -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
''',
        "labels swapped": '''
def discriminator_loss(real_logits, fake_logits):
    return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()
''',
        "sign flipped (maximises the loss)": '''
def discriminator_loss(real_logits, fake_logits):
    return -(F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())
''',
        "pooled mean over real and fake": '''
def discriminator_loss(real_logits, fake_logits):
    return torch.cat([F.softplus(-real_logits), F.softplus(fake_logits)]).mean()
''',
        "calls the package": '''
from genai_course.generative.gan import discriminator_loss as _dl
def discriminator_loss(real_logits, fake_logits):
    return _dl(real_logits, fake_logits)
''',
    },
    "ex5_generator_loss": {
        "the saturating loss": '''
def generator_loss(fake_logits):
    return -F.softplus(fake_logits).mean()
''',
        "labels not flipped (D's loss on the fakes)": '''
def generator_loss(fake_logits):
    return F.softplus(fake_logits).mean()
''',
        "log of the sigmoid (infinite for confident D)": '''
def generator_loss(fake_logits):
    return -torch.log(torch.sigmoid(fake_logits)).mean()
''',
        "sum over the batch instead of the mean": '''
def generator_loss(fake_logits):
    return F.softplus(-fake_logits).sum()
''',
        "calls the package": '''
from genai_course.generative.gan import generator_loss as _gl
def generator_loss(fake_logits):
    return _gl(fake_logits)
''',
    },
    "ex6_coupling_forward": {
        "log-det with the wrong sign": '''
def coupling_forward(x, mask, s, t):
    y = mask * x + (1 - mask) * (x * torch.exp(s) + t)
    return y, -((1 - mask) * s).sum(dim=1)
''',
        "log-det sums the kept coordinates too": '''
def coupling_forward(x, mask, s, t):
    y = mask * x + (1 - mask) * (x * torch.exp(s) + t)
    return y, s.sum(dim=1)
''',
        "log-det of exp(s) instead of s": '''
def coupling_forward(x, mask, s, t):
    y = mask * x + (1 - mask) * (x * torch.exp(s) + t)
    return y, ((1 - mask) * torch.exp(s)).sum(dim=1)
''',
        "mask roles swapped": '''
def coupling_forward(x, mask, s, t):
    y = (1 - mask) * x + mask * (x * torch.exp(s) + t)
    return y, (mask * s).sum(dim=1)
''',
        "calls the package": '''
import genai_course.generative.flows as _flows
def coupling_forward(x, mask, s, t):
    y, log_det = _flows.coupling_forward(x, mask, s, t)
    return y, log_det
''',
    },
    "ex7_coupling_inverse": {
        "multiplies by exp(s) again": '''
def coupling_inverse(y, mask, s, t):
    x = mask * y + (1 - mask) * (y - t) * torch.exp(s)
    return x, -((1 - mask) * s).sum(dim=1)
''',
        "unscales before removing the shift": '''
def coupling_inverse(y, mask, s, t):
    x = mask * y + (1 - mask) * (y * torch.exp(-s) - t)
    return x, -((1 - mask) * s).sum(dim=1)
''',
        "log-det of the forward direction": '''
def coupling_inverse(y, mask, s, t):
    x = mask * y + (1 - mask) * (y - t) * torch.exp(-s)
    return x, ((1 - mask) * s).sum(dim=1)
''',
        "log-det sums the kept coordinates too": '''
def coupling_inverse(y, mask, s, t):
    x = mask * y + (1 - mask) * (y - t) * torch.exp(-s)
    return x, -s.sum(dim=1)
''',
        "transforms the kept coordinates too": '''
def coupling_inverse(y, mask, s, t):
    x = (y - t) * torch.exp(-s)
    return x, -((1 - mask) * s).sum(dim=1)
''',
        "calls the package": '''
from genai_course.generative.flows import coupling_inverse as _ci
def coupling_inverse(y, mask, s, t):
    return _ci(y, mask, s, t)
''',
    },
    "ex8_langevin_step": {
        "missing the factor 1/2 on the drift": '''
def langevin_step(x, score_x, step_size, noise):
    return x + step_size * score_x + math.sqrt(step_size) * noise
''',
        "noise not scaled by sqrt(step)": '''
def langevin_step(x, score_x, step_size, noise):
    return x + 0.5 * step_size * score_x + step_size * noise
''',
        "steps downhill": '''
def langevin_step(x, score_x, step_size, noise):
    return x - 0.5 * step_size * score_x + math.sqrt(step_size) * noise
''',
        "no noise (gradient ascent)": '''
def langevin_step(x, score_x, step_size, noise):
    return x + 0.5 * step_size * score_x
''',
        "calls the package": '''
from genai_course.generative.energy import langevin_step as _ls
def langevin_step(x, score_x, step_size, noise):
    return _ls(x, score_x, step_size, noise)
''',
    },
}
