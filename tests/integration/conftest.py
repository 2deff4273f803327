"""
conftest.py - pytest glue for the whole-system tests

Fixture `instance`: a fresh harness.Instance per test, always cleaned up
(stopped, leftover processes killed, tree removed). Processes that survive
teardown and sanitizer reports (PETREL_SANITIZED) fail the test. When a
test fails, its maillog is attached to the failure report.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def pytest_configure(config):
    path = os.environ.get("PETREL_BUILD")
    if not path or not os.path.isabs(path):
        raise pytest.UsageError(
            "set PETREL_BUILD to the absolute build directory, e.g. "
            "PETREL_BUILD=$PWD/build")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    inst = getattr(item, "petrel_instance", None)
    if inst is not None and rep.failed and call.when in ("setup", "call"):
        rep.sections.append(("maillog " + inst.maillog, inst.log()))


@pytest.fixture
def instance(request):
    inst = harness.Instance()
    request.node.petrel_instance = inst
    try:
        yield inst
    finally:
        log = inst.log()
        problems = inst.cleanup()
    if problems:
        pytest.fail("\n".join(problems) + "\n---- maillog:\n" + log,
                    pytrace=False)
