"""Client for the Azure ML REST surfaces: one transport, one error hierarchy."""
