"""The contract checker's self-test: deliberately wrong answers (e.g.
BranchMetadata without `status`) must be flagged, the allowed departures must
not. Skipped when the OpenAPI document is absent."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check_contract  # noqa: E402


def test_checker_flags_wrong_answers():
    if not os.path.isfile(check_contract.openapi_path()):
        pytest.skip("the OpenAPI document %s is absent (set XBRANCH_OPENAPI)" % check_contract.openapi_path())
    assert check_contract.main(["check_contract.py", "--self-test"]) == 0
