import dagster as dg

from batch_pipelines.defs.ledger.assets import tenant_cost_report

tenant_cost_report_job = dg.define_asset_job(
    "tenant_cost_report_job", selection=[tenant_cost_report]
)
