"""Using a shared embedding space: zero-shot classification, retrieval, probes.

* :func:`embed_images`, :func:`embed_texts` -- CLIP embeddings in batches, without gradients.
* :func:`class_embeddings` -- one embedding per class from several prompts: the mean of the
  prompts' normalised embeddings, normalised again (prompt ensembling, Radford et al. 2021,
  section 3.1.4, which averages "in embedding space").
* :func:`zero_shot_predict` -- each image's class is the class embedding most similar to it.
* :func:`recall_at_k` -- retrieval: the share of queries whose match is among the ``k`` most
  similar items (ties count in the query's favour).
* :func:`linear_probe_accuracy` -- a logistic regression on frozen features (the paper's
  "linear probe", section 3.2), the supervised yardstick for zero-shot accuracy.

Used in: chapter 5 (and chapter 8's retrieval metrics).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from genai_course.core.checks import check_int


@torch.no_grad()
def embed_images(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 512
                 ) -> torch.Tensor:
    """``model.encode_image`` over ``images`` in batches, in eval mode, on the CPU."""
    model.eval()
    return torch.cat([model.encode_image(images[i:i + batch_size]).cpu()
                      for i in range(0, len(images), batch_size)])


@torch.no_grad()
def embed_texts(model: torch.nn.Module, captions: Sequence[str], batch_size: int = 1024
                ) -> torch.Tensor:
    """``model.encode_text`` over ``captions`` in batches, in eval mode, on the CPU."""
    model.eval()
    captions = list(captions)
    return torch.cat([model.encode_text(captions[i:i + batch_size]).cpu()
                      for i in range(0, len(captions), batch_size)])


def class_embeddings(prompt_features: torch.Tensor) -> torch.Tensor:
    """Prompt ensembling: ``prompt_features`` (k classes, m prompts, d), each normalised ->
    (k, d): the mean over the prompts, normalised again."""
    if prompt_features.ndim != 3:
        raise ValueError(f"prompt_features must have shape (classes, prompts, d), got "
                         f"{tuple(prompt_features.shape)}")
    return F.normalize(prompt_features.mean(dim=1), dim=-1)


def zero_shot_predict(image_features: torch.Tensor, prompt_features: torch.Tensor
                      ) -> torch.Tensor:
    """Predicted classes (n,) int64: for normalised ``image_features`` (n, d) and prompt
    embeddings (k, m, d), the class whose ensembled embedding (:func:`class_embeddings`)
    has the largest cosine similarity."""
    return (image_features @ class_embeddings(prompt_features).T).argmax(dim=1)


@torch.no_grad()
def zero_shot_classify(model: torch.nn.Module, images: torch.Tensor,
                       prompts: Sequence[Sequence[str]], ensemble: bool = True) -> torch.Tensor:
    """Zero-shot classes of ``images`` with one list of prompts per class (all lists of one
    length); ``ensemble=False`` uses each class's first prompt only."""
    k, m = len(prompts), len(prompts[0])
    if any(len(p) != m for p in prompts):
        raise ValueError("every class needs the same number of prompts")
    chosen = [list(p) if ensemble else [p[0]] for p in prompts]
    features = embed_texts(model, [c for p in chosen for c in p]).reshape(k, len(chosen[0]), -1)
    return zero_shot_predict(embed_images(model, images), features)


def recall_at_k(similarity: torch.Tensor, k: int) -> float:
    """Share of queries (rows of ``similarity``, (n_queries, n_items), n_queries <= n_items)
    whose match -- item ``i`` for query ``i`` -- is among the ``k`` most similar items: fewer
    than ``k`` items are strictly more similar than it."""
    if not isinstance(similarity, torch.Tensor) or similarity.ndim != 2:
        raise ValueError("similarity must be a 2-D tensor (queries, items)")
    n_queries, n_items = similarity.shape
    if n_queries > n_items or n_queries == 0:
        raise ValueError(f"need 1 <= n_queries <= n_items, got {tuple(similarity.shape)}")
    k = check_int(k, "k", 1)
    if k > n_items:
        raise ValueError(f"k must be at most the number of items {n_items}, got {k}")
    match = similarity[torch.arange(n_queries), torch.arange(n_queries)]
    above = (similarity > match[:, None]).sum(dim=1)
    return float((above < k).double().mean())


def linear_probe_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor,
                          test_features: torch.Tensor, test_labels: torch.Tensor,
                          C: float = 1.0) -> float:
    """Test accuracy of scikit-learn's logistic regression (L2 penalty ``1 / C``) fitted on
    frozen features."""
    from sklearn.linear_model import LogisticRegression

    probe = LogisticRegression(C=C, max_iter=2000)
    probe.fit(train_features.numpy(), train_labels.numpy())
    return float((probe.predict(test_features.numpy()) == test_labels.numpy()).mean())
