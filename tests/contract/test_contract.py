"""The contract test: every request the tests recorded in XBRANCH_TRAFFIC_DIR
(and the emulator's answer) against the public OpenAPI document
(check_contract.py). Skipped when the document is absent; ctest runs it
after every test that records traffic."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check_contract  # noqa: E402


def test_recorded_traffic_matches_the_contract():
    if not os.path.isfile(check_contract.openapi_path()):
        pytest.skip("the OpenAPI document %s is absent (set XBRANCH_OPENAPI)" % check_contract.openapi_path())
    assert check_contract.main(["check_contract.py"]) == 0
