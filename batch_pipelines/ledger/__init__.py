"""The cost ledger: usage records and pricing (usage.py, pricing.py), the priced ledger and its
invariants (ledger.py), budgets (budgets.py), tenant reports (reports.py), the ROI estimate
(estimate.py)."""
