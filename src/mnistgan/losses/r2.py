"""R2 (Roth et al. 2017; R3GAN): R1's penalty on generated images instead of real ones.

penalty = gamma / 2 * mean(|grad_x D(x)|^2) over generated x (detached from G). With R1
it keeps D smooth on both distributions, which R3GAN needed for the relativistic loss to
converge. Every step (loss.r2_every = 1) or lazily, exactly like R1.
"""

from __future__ import annotations

from mnistgan.losses.r1 import R1


class R2(R1):
    name = "r2"
    on_fake = True
