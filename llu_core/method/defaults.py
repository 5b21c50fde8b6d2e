"""The paper's hyperparameters of LLU, in one place.

Sec. 4 ("Training"): "If not stated otherwise we choose the parameters of our approach as
β = 0.5, γ = 20, λ = 1e3 and the number of clusters as 512."

Sec. 4.4 ("Dirac mask"): "for numerical reasons, we did not actually implement a γ parameter
of infinity, but clamped α to zero or one, depending on some small distance threshold." The
paper gives no number. :data:`DIRAC_THRESHOLD` is ours: a cosine distance of 1e-4 (a cosine
of 0.9999) counts an embedding as a point of D. That admits the training embeddings
themselves (float32 rounding puts xᵀx within about 1e-6 of 1) and near-duplicates, and
nothing else: on CLIP and on the offline model, two distinct images lie at least 1e-2 apart.
"""

#: β: the largest interpolation weight (global damping, Eq. 5).
BETA = 0.5
#: γ: the concentration of the local mask (Eq. 5).
GAMMA = 20.0
#: λ: the weight of the identity regularisation (Eq. 6).
LAM = 1e3
#: The number of complete-linkage clusters that bounds D (Sec. 3.2).
N_CLUSTERS = 512
#: The cosine distance within which the Dirac mask counts x as a point of D (see above).
DIRAC_THRESHOLD = 1e-4
