"""Text towers with learned context: (context vectors, class names) → unit text embeddings.

A prompt learner (CoOp, Zhou et al. 2022) keeps the text encoder frozen and learns the words
around the class name: the prompt "a photo of a {class}." becomes [start] v₁ … v_M [class
tokens] "." [end], with v₁ … v_M free vectors in the encoder's *word-embedding* space. These
towers run that prompt through a backbone's own text encoder, so a learned prompt lands in the
space of the backbone's image embeddings (KaiyangZhou/CoOp, ``trainers/coop.py``:
``PromptLearner`` builds prefix, context and suffix, ``TextEncoder`` encodes them).

- :class:`OpenCLIPContextTower`: open_clip's CLIP text transformer: token embeddings,
  positional embeddings, the transformer with its causal mask, ``ln_final``, the row of the
  end-of-text token, ``text_projection``.
- :class:`OfflineContextTower`: the offline model's MiniLM through ``inputs_embeds`` (its own
  position embeddings, bidirectional attention over the unpadded tokens, mean pooling,
  normalisation as sentence-transformers does), then the offline model's fixed map from
  sentence embeddings to its 512-d space
  (:meth:`llu_core.backbones.offline.OfflineBackbone.sentence_to_embedding`).

With the context set to the word embeddings of "a photo of a" and no training, each tower
gives exactly the backbone's ``encode_text(classnames, ["a photo of a {}."])`` (tested to
1e-5). Get a tower from ``backbone.context_tower()``.

The frozen parts of the prompts (start token, class-name tokens, end) are embedded once per
class list and reused. The open_clip tower feeds only the tokens up to the longest prompt's
end token: under the causal mask, the end token's output never depends on the padding after
it, so the result is that of the 77-token input at a fraction of the cost.
"""

import torch
import torch.nn.functional as F

#: The placeholder word whose tokens the context vectors replace (CoOp's "X", lower-cased by
#: both tokenizers); one token per context vector in both vocabularies.
PLACEHOLDER = "x"
#: How many class lists keep their embedded frozen prompt parts.
_CACHED_CLASS_LISTS = 16


class PromptTower:
    """A frozen text encoder that takes learned context vectors in place of prompt words.

    Parameters
    ----------
    backbone : the backbone whose text encoder this is.

    Attributes
    ----------
    key : str
        Identifies the frozen weights (the backbone's ``cache_key``): a model fitted with one
        tower scores only with a tower of the same key.
    device : torch.device
        Where the encoder runs.
    """

    def __init__(self, backbone):
        self.backbone = backbone
        self.key = backbone.cache_key
        self.device = torch.device(backbone.device)
        self._frozen = {}

    #: How many tokens (start and end included) the encoder has positions for.
    max_tokens = None

    def word_embeddings(self, text):
        """The word embeddings (k, ctx_dim) of the k tokens of ``text`` (no start/end tokens)."""
        raise NotImplementedError

    def encode_text(self, classnames, templates):
        """The backbone's own class embeddings (C, d) of hand-crafted prompts (``backbone.encode_text``):
        how the rows of a :class:`~llu_core.utils.class_texts.ClassTexts` of this tower are made."""
        return self.backbone.encode_text(classnames, templates)

    def __call__(self, context, classnames):
        """Unit text embeddings of the prompts [start] context [class name] "." [end].

        Parameters
        ----------
        context : torch.Tensor, shape (M, ctx_dim) or (B, M, ctx_dim)
            M context vectors shared by all classes, or one set per image (CoCoOp).
        classnames : sequence of str, length C

        Returns
        -------
        torch.Tensor, float32, shape (C, d) for a shared context, (B, C, d) otherwise; on
        ``device``, differentiable with respect to ``context``.
        """
        shared = context.ndim == 2
        context = context.unsqueeze(0) if shared else context
        n_images, n_ctx = context.shape[:2]
        prefix, suffix, extra = self._frozen_parts(n_ctx, tuple(classnames))
        n_classes = prefix.shape[1]
        context = context.to(prefix).unsqueeze(1).expand(-1, n_classes, -1, -1)
        prompts = torch.cat([prefix.expand(n_images, -1, -1, -1), context, suffix.expand(n_images, -1, -1, -1)], dim=2)
        embeddings = self._encode(prompts.flatten(0, 1), extra.repeat(n_images, 1))
        embeddings = F.normalize(embeddings.float(), dim=-1).unflatten(0, (n_images, n_classes))
        return embeddings[0] if shared else embeddings

    def _frozen_parts(self, n_ctx, classnames):
        """Start-token embeddings (1, C, 1, w), class/end embeddings (1, C, s, w) and the
        per-prompt tensor the encoder needs besides them (C, L), cached per class list."""
        key = (n_ctx, classnames)
        if key not in self._frozen:
            if len(self._frozen) >= _CACHED_CLASS_LISTS:
                self._frozen.pop(next(iter(self._frozen)))
            prompts = [f"{' '.join([PLACEHOLDER] * n_ctx)} {name}." for name in classnames]
            self._check_lengths(n_ctx, classnames, self._token_counts(prompts))
            with torch.no_grad():
                embedded, extra = self._embed_tokens(prompts)
            self._frozen[key] = (embedded[None, :, :1], embedded[None, :, 1 + n_ctx:], extra)
        return self._frozen[key]

    def _check_lengths(self, n_ctx, classnames, counts):
        """Raise ``ValueError`` when a prompt has more tokens than the encoder has positions
        (its tokenizer would cut the class name off, or the positions would run out)."""
        longest = max(range(len(counts)), key=counts.__getitem__)
        if counts[longest] > self.max_tokens:
            raise ValueError(f"n_ctx={n_ctx}: the prompt of class {classnames[longest]!r} has {counts[longest]} tokens, "
                             f"more than the {self.max_tokens} positions of the text tower ({self.key}); use fewer "
                             "context vectors or shorter class names")

    def _token_counts(self, prompts):
        """The number of tokens of each prompt, start and end included, as if never truncated."""
        raise NotImplementedError

    def _embed_tokens(self, prompts):
        """Word embeddings (C, L, w) of the tokenised prompts and the encoder's extra input (C, L)."""
        raise NotImplementedError

    def _encode(self, prompts, extra):
        """Text features (N, d) of prompt word embeddings (N, L, w)."""
        raise NotImplementedError


def _freeze(module):
    for parameter in module.parameters():
        parameter.requires_grad_(False)


class OpenCLIPContextTower(PromptTower):
    """open_clip's CLIP text encoder with learned context (CoOp's ``TextEncoder``).

    Parameters
    ----------
    backbone : llu_core.backbones.openclip.OpenCLIPBackbone
        Its text weights are frozen (``requires_grad`` off), as in CoOp.
    """

    def __init__(self, backbone):
        super().__init__(backbone)
        self.model, self.tokenizer = backbone.model, backbone.tokenizer
        if not hasattr(self.model, "token_embedding"):
            raise ValueError(f"{backbone.name}: only open_clip CLIP models with their own text transformer can take "
                             "learned context")
        _freeze(self.model)
        self.ctx_dim = self.model.token_embedding.embedding_dim
        self.max_tokens = self.model.positional_embedding.shape[0]
        projection = self.model.text_projection
        self.embed_dim = projection.out_features if isinstance(projection, torch.nn.Linear) else projection.shape[1]

    def word_embeddings(self, text):
        tokens = self.tokenizer([text]).to(self.device)
        end = int(tokens.argmax(dim=-1))  # the end-of-text token has the largest id
        with torch.no_grad():
            return self.model.token_embedding(tokens[0, 1:end]).float()

    def _token_counts(self, prompts):
        tokens = self.tokenizer(prompts, context_length=self.max_tokens + 1)  # one more: a longer prompt shows
        return (tokens.argmax(dim=-1) + 1).tolist()  # the end token has the largest id

    def _embed_tokens(self, prompts):
        tokens = self.tokenizer(prompts).to(self.device)
        if self.model.text_pool_type in ("argmax", "eos"):  # pooled at the end token: crop after it
            tokens = tokens[:, :int(tokens.argmax(dim=-1).max()) + 1]
        return self.model.token_embedding(tokens), tokens

    def _encode(self, prompts, tokens):
        from open_clip.transformer import text_global_pool

        model, length = self.model, prompts.shape[1]
        cast = model.transformer.get_cast_dtype()
        x = prompts.to(cast) + model.positional_embedding[:length].to(cast)
        mask = None if model.attn_mask is None else model.attn_mask[:length, :length]
        x = model.ln_final(model.transformer(x, attn_mask=mask))
        x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
        projection = model.text_projection
        return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection

    def __repr__(self):
        return f"OpenCLIPContextTower(key={self.key!r})"


class OfflineContextTower(PromptTower):
    """The offline model's MiniLM with learned context, mapped into the offline 512-d space.

    MiniLM is loaded on first use. Its word embeddings are the context space (384-d); the
    position and token-type embeddings are added by the model itself; the sentence embedding
    is the attention-masked mean of the last hidden states, L2-normalised (the
    sentence-transformers pipeline of all-MiniLM-L6-v2: Transformer, Pooling "mean",
    Normalize); :meth:`~llu_core.backbones.offline.OfflineBackbone.sentence_to_embedding` then
    gives the text embedding exactly as ``encode_text`` does.

    Parameters
    ----------
    backbone : llu_core.backbones.offline.OfflineBackbone
    """

    embed_dim = 512

    def __init__(self, backbone):
        super().__init__(backbone)

    @property
    def _sentence_model(self):
        model = self.backbone._text_tower
        _freeze(model)
        return model.eval()

    @property
    def _bert(self):
        return self._sentence_model[0].auto_model

    @property
    def ctx_dim(self):
        return self._bert.config.hidden_size

    @property
    def max_tokens(self):
        return self._sentence_model.max_seq_length

    def _token_counts(self, prompts):
        return [len(ids) for ids in self._sentence_model.tokenizer(prompts).input_ids]

    def word_embeddings(self, text):
        ids = self._sentence_model.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            return self._bert.embeddings.word_embeddings(ids[0].to(self.device)).float()

    def _embed_tokens(self, prompts):
        model = self._sentence_model
        batch = model.tokenizer(prompts, padding=True, truncation=True, max_length=model.max_seq_length,
                                return_tensors="pt").to(self.device)
        return self._bert.embeddings.word_embeddings(batch.input_ids), batch.attention_mask

    def _encode(self, prompts, attention_mask):
        hidden = self._bert(inputs_embeds=prompts, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return self.backbone.sentence_to_embedding(F.normalize(pooled, dim=1))

    def __repr__(self):
        return f"OfflineContextTower(key={self.key!r})"
