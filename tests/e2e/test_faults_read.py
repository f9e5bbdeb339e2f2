"""The fault matrix, part 2: create against faults on GET /branches/{id}
(readiness polling) and on the credentials call. See test_faults.py."""

from faults_common import CREATE_CASES, CREDS, DESCRIBE, FaultMatrix, add_cases, main, targets


class CreateReadFaults(FaultMatrix):
    part = "2-create-describe-credentials"


add_cases(CreateReadFaults, targets(CREATE_CASES, DESCRIBE, CREDS), "create")

if __name__ == "__main__":
    main()
