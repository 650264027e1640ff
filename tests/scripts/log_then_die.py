"""Child program: log COUNT records with writer="process" while the test holds the lock.

Usage: log_then_die.py DB COUNT BOUND [BUSY_TIMEOUT]. BOUND is the writer process's
time, in seconds, to write what it received once the application has ended without
close() (``_closing.DRAIN_TIMEOUT``, forwarded to the writer process like the other
tunables); BUSY_TIMEOUT the write connection's ``busy_timeout`` in ms (default 1000).

On stdout: ``writer PID`` once the database is made and a first record committed (the
test then locks the database and writes a line to stdin); then it logs COUNT records,
``r0`` ... and says ``sent`` once every one of them is in the writer process's pipe,
and waits to be killed. Given the line ``close`` then, it calls ``handler.close()``
(which gives up after BOUND seconds) and says ``closing`` once the writer process has
been told close()'s deadline: the test kills it during close().
Run by tests/reliability/test_orphaned_writer.py; never imported.
"""

import logging
import sys
import threading

from sqlite_logging_handler import SQLiteHandler, _closing, _process_transport
from sqlite_logging_handler import handler as handler_module

db, count, bound = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
busy_timeout = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
_closing.DRAIN_TIMEOUT = bound
handler_module.CLOSE_TIMEOUT = bound
all_sent = threading.Event()
push = _process_transport.ProcessTransport._push


def reported_push(self, message, waiter=None):
    """The transport's ``_push``, noting when the last record's row is in the pipe."""
    push(self, message, waiter)  # returns once the message is in the pipe
    if message.logs and message.first_log + message.logs - 1 >= count + 1:  # "start" is 1
        all_sent.set()


def reported_closing(self, deadline):
    """The transport's ``closing``: says ``closing`` once CLOSE is on the control pipe."""
    closing(self, deadline)
    print("closing", flush=True)


closing = _process_transport.ProcessTransport.closing
_process_transport.ProcessTransport._push = reported_push  # type: ignore[method-assign]
_process_transport.ProcessTransport.closing = reported_closing  # type: ignore[method-assign]
handler = SQLiteHandler(db, writer="process", pragmas={"busy_timeout": busy_timeout})
log = logging.getLogger("app")
log.setLevel(logging.INFO)
log.addHandler(handler)
log.info("start")
assert handler.flush(timeout=60)
print("writer", handler.stats()["writer_pid"], flush=True)
sys.stdin.readline()  # the test holds the lock now
for i in range(count):
    log.info("r%d", i)
assert all_sent.wait(60), "the records did not all reach the writer process's pipe"
print("sent", flush=True)
if sys.stdin.readline() == "close\n":
    handler.close()
threading.Event().wait()  # until SIGKILL
