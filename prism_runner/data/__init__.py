"""Datasets that read real formats, views (augmentations) per modality, and collate functions."""
