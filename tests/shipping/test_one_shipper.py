"""One shipper per destination: a second one is refused while the first runs."""

from __future__ import annotations

import glob
import os
import subprocess

import pytest

from sqlite_logging_handler.shipping import Shipper, ShippingError

from ..conftest import PYTHON, child_env
from .test_otlp_failures import log_with_poison, ship_command

pytestmark = pytest.mark.slow


def test_a_second_shipper_for_the_same_destination_is_refused(db_path, receiver, tmp_path):
    log_with_poison(db_path, 100, 0)
    first = Shipper(db_path, receiver.url)
    try:
        with pytest.raises(ShippingError, match=r"already shipping .* stop it first"):
            Shipper(db_path, receiver.url)
        done = subprocess.run(
            ship_command(db_path, receiver.url, "--once"),
            env=child_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1
        assert "another shipper" in done.stderr and done.stderr.count("\n") == 1
        other = Shipper(db_path, receiver.url, name="elsewhere")  # another cursor: allowed
        other.close()
    finally:
        first.close()
    assert not list(tmp_path.glob("*.lock"))  # nothing left behind
    Shipper(db_path, receiver.url).run_once()  # free again
    assert len(receiver.log_uids()) == 100


def test_a_running_follower_holds_the_lock_and_a_kill_frees_it(db_path, receiver):
    log_with_poison(db_path, 10, 0)
    follower = subprocess.Popen(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(db_path), "ship", "otlp",
         receiver.url],
        env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert receiver.wait_for(lambda: len(receiver.logs) == 10)
        with pytest.raises(ShippingError, match=f"process {follower.pid}"):
            Shipper(db_path, receiver.url)
    finally:
        follower.kill()
        follower.communicate()
    Shipper(db_path, receiver.url).close()  # the kernel let the lock go with the process


def test_rm_database_star_does_not_free_the_lock(db_path, receiver):
    """``rm app.db*`` (the database with its WAL files) leaves a running shipper's lock."""
    log_with_poison(db_path, 10, 0)
    first = Shipper(db_path, receiver.url)
    try:
        for path in glob.glob(glob.escape(str(db_path)) + "*"):  # as the shell's app.db*
            os.unlink(path)
        log_with_poison(db_path, 10, 0)
        with pytest.raises(ShippingError, match=r"already shipping"):
            Shipper(db_path, receiver.url)
    finally:
        first.close()
