"""Questions asked of the store: the filter query language and lineage."""
