import dagster as dg

from batch_pipelines.defs.ledger.assets import tenant_cost_report
from batch_pipelines.defs.ledger.checks import no_usage_row_unpriced_for_an_hour

tenant_cost_report_job = dg.define_asset_job(
    "tenant_cost_report_job", selection=[tenant_cost_report]
)
# The coverage check alone (llm_usage is not materialised by Dagster); it must run even when
# nothing is priced.
ledger_coverage_job = dg.define_asset_job(
    "ledger_coverage_job", selection=dg.AssetSelection.checks(no_usage_row_unpriced_for_an_hour)
)
