"""From images to embeddings: the data sets (:mod:`.datasets`), your own image folders
(:mod:`.folders`), corruptions (:mod:`.corruptions`), the embedding cache (:mod:`.features`), the
data root (:mod:`.paths`), and the offline data's manifest (:mod:`.manifest`) and fetcher
(:mod:`.fetch`).

The public names are ``llu_core``'s (``from llu_core import load_dataset, embed_dataset``). This
package imports none of its modules itself, so that ``python -m llu_core fetch-data``, which
needs only :mod:`.fetch`, starts without loading torch.
"""
