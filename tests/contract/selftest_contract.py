#!/usr/bin/env python3
"""The contract checker's self-test: deliberately wrong answers (e.g.
BranchMetadata without `status`) must be flagged, the allowed departures must
not. Exit 77 when the OpenAPI document is absent."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check_contract  # noqa: E402

if __name__ == "__main__":
    sys.exit(check_contract.main([sys.argv[0], "--self-test"]))
