"""Child processes of the test suite: every SQLiteHandler defaults to the run's writer.

``tests/conftest.py`` puts this directory on the ``PYTHONPATH`` of the Python
processes the tests start, so that a run with ``--writer=process`` runs the child
scripts' handlers (dictConfig ones included) in process mode too. Python imports
``sitecustomize`` at startup. Nothing is imported here until the script itself imports
the handler (importing ``logging`` early would change the order of ``atexit`` hooks
that some scripts test): an import hook changes the default once the module is loaded.
"""

import os
import sys

_MODULE = "sqlite_logging_handler.handler"


class _DefaultWriter:
    """Finds ``sqlite_logging_handler.handler`` as usual, then sets the default writer."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != _MODULE:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            defaults = module.SQLiteHandler.__init__.__kwdefaults__
            defaults["writer"] = "process"

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get("SQLITE_LOGGING_TEST_WRITER") == "process":
    sys.meta_path.insert(0, _DefaultWriter)
