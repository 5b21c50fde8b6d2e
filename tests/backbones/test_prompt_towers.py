"""Text towers with learned context (llu_core.backbones.prompt_towers), on the offline model and an
open_clip model: the context of "a photo of a" reproduces the prompts, gradients reach the context only."""

import numpy as np
import pytest
import torch

from llu_core.estimators.prompt_learners import CoOpClassifier


NAMES = ["cat", "golden retriever", "sea lion", "banded", "airplane"]


@pytest.mark.parametrize("name", ["offline", "vit_b32"])
def test_context_of_a_photo_of_a_reproduces_encode_text(request, name):
    backbone = request.getfixturevalue(name)
    tower = backbone.context_tower()
    context = tower.word_embeddings("a photo of a")
    assert context.shape == (4, tower.ctx_dim)
    expected = backbone.encode_text(NAMES, ["a photo of a {}."]).cpu().numpy()
    np.testing.assert_allclose(tower(context, NAMES).detach().numpy(), expected, atol=1e-5)
    # One context per image (CoCoOp): the unchanged one reproduces the prompts, a moved one does not.
    moved = context + 0.5 * torch.randn(context.shape, generator=torch.Generator().manual_seed(0))
    per_image = tower(torch.stack([context, moved]), NAMES).detach().numpy()
    assert per_image.shape == (2, len(NAMES), tower.embed_dim)
    np.testing.assert_allclose(per_image[0], expected, atol=1e-5)
    assert np.abs(per_image[1] - expected).max() > 1e-3
    np.testing.assert_allclose(np.linalg.norm(per_image, axis=-1), 1.0, rtol=1e-5)


def test_gradients_reach_the_context_and_no_frozen_weight(offline):
    tower = offline.context_tower()
    context = tower.word_embeddings("a photo of a").clone().requires_grad_(True)
    tower(context, NAMES)[:, 0].sum().backward()
    assert context.grad is not None and context.grad.abs().sum() > 0
    assert all(p.grad is None for p in offline._text_tower.parameters())


def test_a_context_longer_than_the_text_towers_positions_is_refused(offline_cifar10):
    data = offline_cifar10
    with pytest.raises(ValueError, match=r"^n_ctx=300: the prompt of class 'airplane' has 304 tokens, more than "
                                         r"the 256 positions of the text tower"):
        CoOpClassifier(n_ctx=300, ctx_init=None, epochs=1).fit(data.train_X, data.train_y, data.text)
