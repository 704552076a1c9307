"""What training chooses by measuring, measured on the validation split (digits held out of the training set), never
on the test set, which stays for reporting.

The noise scale saved with a model trades fidelity for variety: a narrower noise draws more typical digits, a wider
one rarer styles. The scale chosen is the one whose digits come closest to the validation digits: the lowest Fréchet
distance in the evaluation classifier's features, which grows both when digits stray from real ones and when they
vary too little. (The per-digit distance, from 500 digits of a class, is biased towards narrower noise: its estimate
of a class's spread is too wide by more, the wider the noise. The overall one pools all 5,000.)
"""

from cgan.evaluate import Evaluator, load_classifier

PER_DIGIT = 500  # samples per digit at each scale: as many as the validation split holds


def choose_noise_scale(model, images, labels, scales, seed=0, device="cpu"):
    """(the chosen scale, {scale: its metrics}) for a ConditionalGenerator and the validation digits."""
    evaluator = Evaluator(load_classifier(), images, labels, device=device)
    measured = {scale: evaluator.score_generator(model.with_noise_scale(scale), PER_DIGIT, seed=seed)
                for scale in scales}
    best = min(measured, key=lambda scale: measured[scale]["fd"])
    return best, measured
