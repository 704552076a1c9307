"""The objective the trainer implements, as small pure functions: D's and G's losses, the R1 penalty, the auxiliary
classifier's term, and G's exponential moving average. Each is tested against values computed by hand
(tests/test_objective.py)."""

import torch
import torch.nn.functional as F

from cgan.models import NUM_CLASSES


def d_loss_fn(loss, real_scores, fake_scores, labels):
    """D's loss: hinge, non-saturating (softplus), or the report's BCE of 10 sigmoid outputs."""
    if loss == "hinge":
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
    if loss == "nonsaturating":
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
    # seed: BCE of the 10 sigmoid outputs against the one-hot label (real) and against zeros (fake).
    target = F.one_hot(labels, NUM_CLASSES).float()
    return F.binary_cross_entropy(real_scores, target) + F.binary_cross_entropy(fake_scores, torch.zeros_like(target))


def g_loss_fn(loss, fake_scores, labels):
    """G's loss for the same three objectives."""
    if loss == "hinge":
        return -fake_scores.mean()
    if loss == "nonsaturating":
        return F.softplus(-fake_scores).mean()
    return F.binary_cross_entropy(fake_scores, F.one_hot(labels, NUM_CLASSES).float())


def score_as_probability(loss, scores, labels):
    """Mean D output as a probability that the image is a real digit of its label."""
    if loss == "seed":
        return scores.float().gather(1, labels[:, None]).mean()
    return torch.sigmoid(scores.float()).mean()


R1_EVERY = 4  # lazy regularisation (StyleGAN2): the R1 penalty on every 4th D step only, at 4x the weight


def r1_penalty(discriminator, real, labels):
    """E ||dD(x)/dx||^2 over real digits x (Mescheder et al. 2018): pushing D's gradient on the data towards zero
    keeps D from sharpening into a few real modes, which is what lets G drop styles.

    Run eagerly in fp32 through `forward`, so a torch.compile'd D is bypassed: compiled graphs have no double
    backward.
    """
    real = real.detach().float().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator.forward(real, labels).sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


def r1_term(gamma, penalty):
    """What the R1 penalty adds to D's loss on the steps it runs: gamma / 2 x the penalty, times R1_EVERY because it
    runs on one D step in R1_EVERY (lazy regularisation keeps the same average weight)."""
    return gamma / 2 * R1_EVERY * penalty


def aux_term(weight, fake_logits, labels):
    """What G pays when the auxiliary classifier reads its fakes: weight x the cross-entropy against the asked digit."""
    return weight * F.cross_entropy(fake_logits, labels)


def ema_decay(decay, steps):
    """The EMA's decay after `steps` steps: min(decay, (1 + steps) / (10 + steps)). Early on the EMA follows G
    closely, so it is not dragged back towards the random initial weights."""
    return min(decay, (1 + steps) / (10 + steps))


def make_optimizer(recipe, params, lr, device):
    """The recipe's optimizer (Adam, or the report's SGD) over `params` at rate `lr`."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.betas[0])
    # The fused kernel is one launch per step instead of one per tensor: worth it on a GPU only.
    return torch.optim.Adam(params, lr=lr, betas=recipe.betas, fused=device.type == "cuda")


def update_ema(ema, model, decay):
    """ema <- decay * ema + (1 - decay) * model, weight by weight; buffers (BatchNorm statistics) are copied.
    One multi-tensor kernel for all the weights rather than one launch per tensor: a GPU step is launch-bound."""
    with torch.no_grad():
        torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - decay)
        torch._foreach_copy_(list(ema.buffers()), list(model.buffers()))
