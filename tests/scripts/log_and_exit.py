"""Child program: log COUNT records into DB through dictConfig on root, then exit by MODE.

Usage: log_and_exit.py DB COUNT MODE, MODE one of: return, sys_exit, raise, os_exit_after_flush.
Run by tests/test_process.py; never imported.
"""

import logging
import logging.config
import os
import sys

db, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
logging.config.dictConfig(
    {
        "version": 1,
        "handlers": {
            "db": {
                "class": "sqlite_logging_handler.SQLiteHandler",
                "database": db,
                "flush_interval": 60,  # nothing is committed by time: only by exit
            }
        },
        "root": {"handlers": ["db"], "level": "DEBUG"},
    }
)
log = logging.getLogger("child")
for i in range(count):
    log.info("record %d", i, extra={"i": i})

if mode == "sys_exit":
    sys.exit(3)
if mode == "raise":
    raise RuntimeError("uncaught in the child")
if mode == "os_exit_after_flush":
    logging.getLogger().handlers[0].flush()
    log.info("never flushed")
    os._exit(1)
