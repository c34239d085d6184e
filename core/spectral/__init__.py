"""Spectral prediction from CTX (paper 000): the job behind `marsspec predict`,
`marsspec confidence` and the Processing algorithms marsspec:predictspectra/binconfidence."""

from marsspec.core.spectral.job import PredictRequest, PredictResult, predict_spectra

__all__ = ["PredictRequest", "PredictResult", "predict_spectra"]
