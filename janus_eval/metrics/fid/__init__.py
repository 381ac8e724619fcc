"""FID and KID with clean-fid's semantics (clean-fid 0.1.35, "clean" mode), computed in a stream.

    from janus_eval.metrics.fid import compute_fid
    compute_fid("generated/", "real/")                       # folder to folder
    fid_to_stats("generated/", "real_stats.npz")             # folder to saved statistics

Images are decoded, preprocessed and resized batch by batch (in DataLoader workers), so no folder
needs to fit in memory; tasks feed generated images straight from the sampler with
`image_features`. Reference statistics are computed once and cached as .npz with their provenance
(`reference_stats`).

What is reproduced from clean-fid, quirks included (each checked against its source):

1. Listing (`cleanfid.fid.get_folder_features`): a sorted recursive glob over clean-fid's
   extension list, which is case-sensitive: .jpg .JPG .jpeg .JPEG .png .PNG .bmp .pgm .ppm .tif
   .tiff .webp .npy, so `a.Jpg` or `a.BMP` are not images; hidden files and folders are skipped
   (glob). A .zip is read in place; its members count when their lower-cased extension is in
   the list. We also skip `__MACOSX/` and `._*` members of zips, which clean-fid would try (and
   fail) to decode.
2. Decoding (`cleanfid.resize`/`utils.ResizeDataset`): `PIL.Image.open(f).convert("RGB")`:
   grayscale is replicated to three channels, palettes expanded, and alpha (RGBA, LA) is
   *dropped*, not composited on a background. 16-bit and float images (PIL modes I;16, I, F) are
   refused: PIL's convert clips them at 255, which would give a wrong number silently. .npy files
   are used as they are (clean-fid); we require uint8 HxWx3 arrays.
3. Resize ("clean"): each channel separately as a PIL float ("F") image, bicubic to 299x299,
   clipped to [0, 255], never quantised; the network gets float32 values in [0, 255] and
   normalises them itself ((x - 128) / 128 for the TF-FID Inception). `resize="torch"` does the
   same computation as batched tensor ops on the feature device: PIL's coefficients computed the
   same way in double, products and sums in double in PIL's order, the intermediate rounded to
   float32 between the two passes. It equals PIL bit for bit (tested against PIL on many sizes);
   `resize="pil"` does it with PIL in the workers. Quirk of clean-fid itself: which pass runs
   first depends on the Pillow version (Pillow 13 runs the vertical pass first when the height
   shrinks more than twice as much as the width; older Pillow always starts horizontally), which
   moves float32 roundings, so clean-fid's numbers differ in the last bits across Pillow
   versions. `pillow_pass_rule` detects the installed rule once; the torch resize follows it.
4. Preprocess "crop256" (the GigaGAN/LlamaGen COCO protocol, their `resize_and_center_crop`):
   torchvision's `center_crop` to the short side (offset `int(round((h - s) / 2))`), then PIL
   *LANCZOS* (8-bit) to 256x256, then the clean resize. Applied to both sides.
5. Statistics: mean and `np.cov(rowvar=False)` (N - 1) in float64. clean-fid's mean is float32
   (np.mean of float32 features); the difference moves FID by ~4e-7 relative, and the parity
   test bounds it at 1e-6 relative (tight enough to catch an N instead of N - 1 covariance).
6. `frechet_distance`: clean-fid's code: `scipy.linalg.sqrtm(sigma1 @ sigma2)`; if that is not
   finite, eps=1e-6 is added to both diagonals and sqrtm retried (clean-fid prints a message, we
   warn); an imaginary part larger than 1e-3 on the diagonal raises ValueError, smaller ones are
   dropped.
7. KID (`kernel_distance`): polynomial kernel (x.y / d + 1)^3, 100 subsets of
   m = min(n1, n2, 1000) rows drawn without replacement, unbiased MMD^2. clean-fid draws from the
   unseeded global NumPy generator (its KID changes between calls); ours from
   `np.random.RandomState(seed)`, which draws exactly what clean-fid draws after
   `np.random.seed(seed)`.
8. At least 2 images per side (a covariance needs two); fewer is a UserError.

Not bit-identical on purpose: clean-fid wraps the network in DataParallel; we do not (same math).

The package, by subject: `images` (listing and decoding, quirks 1, 2, 4, 8), `resize` (quirk 3,
in PIL and in torch), `features` (the streaming pipeline and `FeatureOptions`, the keyword
options every folder-level function takes), `distance` (quirks 5 to 7), `stats` (cached
reference statistics with provenance), `api` (the folder functions above) and `bench`
(`janus-eval bench fid`: this engine timed against clean-fid on the same folders).
"""

from .api import compute_fid, compute_kid, fid_to_stats
from .distance import (
    FrechetImaginaryError,
    feature_stats,
    fid_from_features,
    frechet_distance,
    kernel_distance,
)
from .features import FeatureOptions, folder_features, image_features, resolve_device
from .images import EXTENSIONS, PREPROCESS, ImageSet, preprocess_array, to_rgb_array
from .resize import (
    CLEAN_SIZE,
    pil_clean_resize,
    pillow_pass_rule,
    resolve_resize,
    torch_clean_resize,
)
from .stats import (
    STATS_FORMAT,
    ReferenceStats,
    default_stats_dir,
    reference_stats,
    save_reference_stats,
)

__all__ = [
    "CLEAN_SIZE",
    "EXTENSIONS",
    "PREPROCESS",
    "STATS_FORMAT",
    "FeatureOptions",
    "FrechetImaginaryError",
    "ImageSet",
    "ReferenceStats",
    "compute_fid",
    "compute_kid",
    "default_stats_dir",
    "feature_stats",
    "fid_from_features",
    "fid_to_stats",
    "folder_features",
    "frechet_distance",
    "image_features",
    "kernel_distance",
    "pil_clean_resize",
    "pillow_pass_rule",
    "preprocess_array",
    "reference_stats",
    "resolve_device",
    "resolve_resize",
    "save_reference_stats",
    "to_rgb_array",
    "torch_clean_resize",
]
