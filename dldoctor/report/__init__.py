"""Results and reports: the data model and one renderer per output format."""
