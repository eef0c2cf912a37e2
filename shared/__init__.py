"""The AML batch-scoring scheduler: pure scheduling core, engine and adapters.

Nothing in this package imports azure-identity, azure-data-tables or requests at module
level except the adapters that need them, which the runtime imports on first use.
"""
