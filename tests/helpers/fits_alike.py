"""Two fits of the same model compared by their scores: LLU models trained together against their fits alone."""

#: Cosine scores (decision_function / logit_scale) agree within float32 rounding of 600 steps: a
#: random initial W (the plain Linear layer) or ‖W − I‖'s gradient of norm λ reach a few 1e-6.
COSINE_TOLERANCE = 1e-5


def cosines(model, X, T):
    """The cosine scores of ``model``: its decision function over its logit scale."""
    return model.decision_function(X, T) / model.logit_scale
