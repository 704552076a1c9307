"""What training chooses by measuring, measured on the validation split (digits held out of the training set), never
on the test set, which stays for reporting.

The noise scale saved with a model trades fidelity for variety: a narrower noise draws more typical digits, a wider
one rarer styles. The scale chosen is the one whose digits of each class come closest to the validation digits of
that class: the lowest mean per-digit Fréchet distance in the evaluation classifier's features, which grows both when
digits stray from real ones and when they vary too little. (The overall distance was tried too: on 5,000 digits its
differences between neighbouring scales were within its noise, and it picked a scale the test set scored worse on
both distances; docs/training-notes.md.)
"""

from cgan.evaluate import Evaluator, load_classifier

PER_DIGIT = 500  # samples per digit at each scale: as many as the validation split holds


def choose_noise_scale(model, images, labels, scales, seed=0, device="cpu"):
    """(the chosen scale, {scale: its metrics}) for a ConditionalGenerator and the validation digits."""
    evaluator = Evaluator(load_classifier(), images, labels, device=device)
    measured = {scale: evaluator.score_generator(model.with_noise_scale(scale), PER_DIGIT, seed=seed)
                for scale in scales}
    best = min(measured, key=lambda scale: measured[scale]["fd_per_digit"])
    return best, measured
