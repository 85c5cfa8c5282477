"""Re-identification on the way back: the placeholder values of a request, for its workflow's store.

The values are in the request's manifest notes (`redaction.MAPPING_NOTE`), written when it was
planned. A request row can lack them when the engine sent the line without the notes of its plan
(the deadline's synchronous fallback writes new rows with empty notes): then the item is rendered
again, which gives the same placeholders, since redaction is deterministic for the same text.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from batch_pipelines.batching import manifest
from batch_pipelines.batching.workflow import ManifestRow, Rendered, Workflow
from batch_pipelines.workflows.redaction import mapping_of


def mappings(
    conn: Connection, workflow: Workflow, requests: Sequence[ManifestRow]
) -> dict[str, dict[str, str]]:
    """Per custom id, the placeholder values of each request (empty when nothing was redacted)."""
    found = {r.custom_id: mapping_of(r.notes) for r in requests}
    unnoted = [r for r in requests if not found[r.custom_id] and _may_redact(r)]
    if unnoted:
        tenants = manifest.load_tenants(conn, {r.tenant_id for r in unnoted})
        unnoted = [r for r in unnoted if r.tenant_id in tenants and tenants[r.tenant_id].redact_pii]
        by_item = {r.item_id: r for r in unnoted}
        items = [manifest.work_item(r) for r in unnoted]
        for outcome in workflow.render(conn, items, tenants) if items else ():
            if isinstance(outcome, Rendered) and outcome.item.item_id in by_item:
                found[by_item[outcome.item.item_id].custom_id] = mapping_of(outcome.notes)
    return found


def _may_redact(request: ManifestRow) -> bool:
    # Rows planned for a redacting tenant carry their counts; a row without any notes may be one.
    return not request.notes or "redactions" in request.notes
