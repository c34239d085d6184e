"""The error hierarchy: one root, and each class also the builtin it resembles."""

from __future__ import annotations

import pytest

from marsspec.core import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InputError, ValueError),
        (errors.RasterIOError, OSError),
        (errors.ModelNotFoundError, KeyError),
        (errors.MissingDependencyError, ImportError),
    ],
)
def test_subclasses_inherit_root_and_builtin(cls, builtin):
    error = cls("message")
    assert isinstance(error, errors.MarsspecError)
    assert isinstance(error, builtin)


def test_cancelled_is_marsspec_error_only():
    assert issubclass(errors.CancelledError, errors.MarsspecError)
    assert not issubclass(errors.CancelledError, ValueError)


def test_model_not_found_message_is_not_quoted():
    assert (
        str(errors.ModelNotFoundError("No model 'x'; valid: a, b")) == "No model 'x'; valid: a, b"
    )
