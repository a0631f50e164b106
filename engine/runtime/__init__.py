"""The only package that imports SpiffWorkflow: parsing, specs, serialization, scripting,
and the load → act → run → sync → save cycle of one instance."""
