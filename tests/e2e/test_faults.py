"""The fault matrix, part 1: create against faults on POST /branches and on
GET /branches (the name lookup), including the idempotency trap (a POST
dropped after the branch was made). Parts 2 and 3 (describe/credentials,
delete and random faults) are test_faults_read.py and test_faults_delete.py;
the matrix itself is faults_common.py. The table of outcomes is printed and
merged into fault-table.md next to $XBRANCH_TRAFFIC_DIR."""

from faults_common import CREATE_CASES, FaultMatrix, LIST, POST, add_cases, main, targets


class CreateWriteFaults(FaultMatrix):
    part = "1-create-post-list"


add_cases(CreateWriteFaults, targets(CREATE_CASES, POST, LIST), "create")

if __name__ == "__main__":
    main()
