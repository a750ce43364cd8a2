"""Neural style transfer: Gatys optimisation, fast feed-forward networks and AdaIN.

The package is the shared part plus one file per method:

    common.py   VGG19 features and preprocessing, the Gram matrix, the content,
                style, total-variation and mean/std losses, the layer balancing
                and `LOSS_WEIGHTS`, the one table of default loss weights
    gatys.py    Gatys et al.: optimise the image (SciPy's L-BFGS-B or Adam),
                colour preservation
    fast.py     Johnson et al.: a transformation network trained per style
    adain.py    Huang & Belongie: one decoder for any style (AdaIN)
    measures.py how good a result is: structure, colour progress, judge losses

Each method file imports only `common.py` (plus TensorFlow, Keras, NumPy, and
SciPy for L-BFGS), so copying `common.py` and one method file into another
project works. This file re-exports the public names, so
`from lib import style_transfer as st; st.stylize_gatys(...)` reads as one module.
"""

from .common import (  # noqa: F401
    ADAIN_LAYERS,
    CONTENT_LAYERS,
    FAST_CONTENT_LAYERS,
    LOSS_NAMES,
    LOSS_WEIGHTS,
    STYLE_LAYERS,
    VGG19_LAYERS,
    VGGPreprocessing,
    as_image_batch,
    balanced_layer_weights,
    build_vgg_feature_extractor,
    channel_mean_std,
    content_layer_weights,
    content_loss,
    describe_vgg_weights,
    gram_matrix,
    loss_weights,
    mean_std_layer_losses,
    mean_std_style_loss,
    pad_to_multiple,
    preprocess_for_vgg,
    style_layer_losses,
    style_loss,
    total_variation_loss,
    weight_source,
)
from .gatys import (  # noqa: F401
    gatys_loss_weights,
    gatys_losses,
    gatys_targets,
    keep_content_colors,
    match_color_statistics,
    minimize_lbfgs_b,
    stylize_gatys,
)
from .gatys import PRESETS as GATYS_PRESETS  # noqa: F401
from .fast import (  # noqa: F401
    FastStyleTransfer,
    InstanceNormalization,
    ResidualBlock,
    build_transform_network,
    fast_style_layer_weights,
    stylize_fast,
)
from .fast import PRESETS as FAST_PRESETS  # noqa: F401
from .adain import (  # noqa: F401
    AdaINStyleTransfer,
    AdaINStylizer,
    AdaptiveInstanceNormalization,
    adain,
    adain_encoder_layer,
    adain_feature_scale,
    adain_layer_weights,
    adain_style_layers,
    build_adain_decoder,
    decoder_encoder_layer,
    stylize_adain,
)
from .adain import ENCODER_LAYERS as ADAIN_ENCODER_LAYERS  # noqa: F401
from .adain import PRESETS as ADAIN_PRESETS  # noqa: F401
from . import common, gatys, fast, adain, measures  # noqa: F401,E402
