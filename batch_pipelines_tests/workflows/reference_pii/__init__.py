"""Frozen copy of PII redaction as issue 21 landed it (`workflows/redaction.py`, `pii_patterns.py`,
`pii_names.py` at 4340836), before it was made faster: the oracle of
`test_redaction_equivalence`. Do not edit; when the detectors change on purpose, the equivalence
test and this copy go (or the copy is taken again), as the previous oracle did."""
