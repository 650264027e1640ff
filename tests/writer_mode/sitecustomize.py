"""Child processes of the test suite: every SQLiteHandler defaults to the run's writer.

``tests/conftest.py`` puts this directory on the ``PYTHONPATH`` of the Python
processes the tests start, so that a run with ``--writer=process`` runs the child
scripts' handlers (dictConfig ones included) in process mode too. Python imports
``sitecustomize`` at startup.
"""

import os

if os.environ.get("SQLITE_LOGGING_TEST_WRITER") == "process":
    from sqlite_logging_handler import SQLiteHandler

    defaults = SQLiteHandler.__init__.__kwdefaults__
    assert defaults is not None
    defaults["writer"] = "process"
