"""Provider adapters with one interface: OpenAI Batch, Anthropic Message Batches, self-hosted
OpenAI-compatible servers, and the synchronous APIs for deadlines."""
