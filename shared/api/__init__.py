"""HTTP surface: request parsing, validation, handlers per area and JSON responses.

Routes are declared in `shared.blueprints`; the handler modules here are imported on
first use, so importing this package touches no Azure SDK.
"""
