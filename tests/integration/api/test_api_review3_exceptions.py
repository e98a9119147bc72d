"""0.1.0's governance exceptions cross process boundaries: a worker of a process pool raising one
hands the caller the same exception, with its attributes and message."""

from __future__ import annotations

import copy
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from tracengent import (
    NotAuthorizedException,
    ToolDeniedException,
    ToolPendingApprovalException,
    TracengentClient,
)
from tracengent.testing import RunningPlatform

EXCEPTIONS = [
    NotAuthorizedException("payments:refund", "over the limit"),
    ToolDeniedException("egress denied", "payments:refund", "egress_deny"),
    ToolDeniedException("denied"),
    ToolPendingApprovalException("apr_1", "needs a person"),
]


@pytest.mark.parametrize("error", EXCEPTIONS, ids=lambda e: type(e).__name__)
def test_pickled_and_copied_exceptions_keep_attributes_and_message(error: Exception) -> None:
    """Pickling (process pools, multiprocessing) and `copy` rebuild the exception as it was."""
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
        assert type(clone) is type(error)
        assert vars(clone) == vars(error)
        assert str(clone) == str(error)
        assert clone.args == error.args


class _RefundDenied(NotAuthorizedException):
    """An application's own subclass, built from its message alone."""

    def __init__(self, reason: str) -> None:
        super().__init__("payments:refund", reason)


class _Denied(ToolDeniedException):
    """A subclass keeping the constructor it inherits."""


@pytest.mark.parametrize(
    "error", [_RefundDenied("over the limit"), _Denied("denied", "p", "policy_deny")], ids=repr
)
def test_subclasses_pickle_too(error: Exception) -> None:
    """A subclass with a constructor of its own pickles as before; one without, as its parent."""
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert vars(clone) == vars(error)


def _ensure_refund(url: str, client_id: str, client_secret: str) -> None:
    """A worker's task: `ensure_authorized` a permission the agent does not hold (raises)."""
    from tracengent import TracengentOptions

    options = TracengentOptions("demo-agent", url, client_id, client_secret)
    with TracengentClient(options) as client:
        client.ensure_authorized("admin:delete")


def test_not_authorized_in_a_process_pool_reaches_the_caller(
    tracengent_platform: RunningPlatform,
) -> None:
    """A denial raised in a pool worker is the caller's `NotAuthorizedException`, not a broken pool."""
    options = tracengent_platform.options()
    assert options.client_id is not None
    assert options.client_secret is not None
    with ProcessPoolExecutor(1) as pool:
        future = pool.submit(
            _ensure_refund, options.base_url, options.client_id, options.client_secret
        )
        with pytest.raises(NotAuthorizedException) as raised:
            future.result(timeout=60)
    assert raised.value.permission == "admin:delete"
    assert "admin:delete" in raised.value.reason
