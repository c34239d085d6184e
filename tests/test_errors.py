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


def _error_classes_outside_errors_py() -> list[str]:
    """``path:line Name`` of the exception classes defined outside core/errors.py (ast, no
    imports): in core/ any class whose bases name an exception (marsspec's or a builtin); in
    the adapters and training/ any subclass of a marsspec error (the command line's
    ``Terminated``, a KeyboardInterrupt standing in for SIGTERM, is not an error)."""
    import ast
    import builtins

    from tests.conftest import REPO_ROOT

    def exception_names(namespace) -> set[str]:
        return {
            name
            for name, value in vars(namespace).items()
            if isinstance(value, type) and issubclass(value, BaseException)
        }

    ours = exception_names(errors)
    anything = ours | exception_names(builtins)
    found = []
    for package in ("core", "training", "cli", "marsspec_plugin"):
        watched = anything if package == "core" else ours
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if path == REPO_ROOT / "core" / "errors.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.ClassDef):
                    continue
                bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
                named = package == "core" and any(b.endswith(("Error", "Exception")) for b in bases)
                if bases & watched or named:
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}")
    return found


def test_every_error_class_lives_in_core_errors():
    assert _error_classes_outside_errors_py() == []


def test_the_docstring_lists_every_error_class():
    classes = [
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.MarsspecError)
    ]
    assert len(classes) >= 9
    for name in classes:
        assert name in errors.__doc__, name


def test_moved_errors_keep_their_place_in_the_hierarchy():
    assert issubclass(errors.ModelIntegrityError, errors.InputError)
    assert issubclass(errors.DataFileError, errors.InputError)
    assert errors.WrongTypeError("x", "lr").label == "lr"
