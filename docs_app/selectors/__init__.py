"""Reads of the documents product: querysets already scoped to what the actor may see."""
