"""From images to embeddings, one job a module:

- the images: the labelled image sets every loader returns (:mod:`.labelled`), the one image
  decoder (:mod:`.images`), corruptions (:mod:`.corruptions`);
- the data sets: the registry, ``load_dataset`` (:mod:`.datasets`), over the offline
  Fashion-MNIST and CIFAR-10 (:mod:`.offline_sets`), CoOp's benchmark and ImageNet's shifts
  (:mod:`.coop`) and your own image folders (:mod:`.folders`); the data root (:mod:`.paths`);
- the embeddings: the disk cache (:mod:`.cache`), encoding images and prompts through it
  (:mod:`.features`), and the front door ``embed_dataset`` / ``embed_target`` (:mod:`.embedded`);
  chapter 5's toy, an embedded data set on a 2-sphere (:mod:`.toy`);
- the offline data: its manifest (:mod:`.manifest`) and fetcher (:mod:`.fetch`).

The public names are ``llu_core``'s (``from llu_core import load_dataset, embed_dataset``). This
package imports none of its modules itself, so that ``python -m llu_core fetch-data``, which
needs only :mod:`.fetch`, starts without loading torch.
"""
