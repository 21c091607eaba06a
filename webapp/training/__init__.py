"""Teaching text to see: contrastive projection heads over frozen encoders.

The catalogue's own (picture, «title. tags») pairs train two small heads with the
symmetric InfoNCE loss (:mod:`.loss`), one over the frozen image backbone's features
and one over the frozen sentence encoder's, so that both land in one shared space
(the LiT recipe: locked towers, tuned heads). :mod:`.data` turns the catalogue and
the cached features into pairs and a seeded, variant-aware train/val/test split;
:mod:`.heads` holds the heads and their file format; :mod:`.train` is the loop
(Adam, plateau schedule, early stopping, curve); :mod:`.ruclip_finetune` tunes
ruCLIP's own projections the same way when real weights are configured.
"""
