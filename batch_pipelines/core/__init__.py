"""Provider-neutral types shared by the engine, the provider adapters, the ledger and the
workflows: prompts and answers, token usage, tenants, model facts. This package imports nothing
else of `batch_pipelines`, so every layer can import it (a test checks)."""
