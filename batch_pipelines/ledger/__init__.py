"""Usage records and pricing for the cost ledger (see pricing.py and usage.py)."""
