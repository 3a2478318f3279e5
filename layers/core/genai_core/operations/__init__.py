"""The read side of the admin API (usage, invocations, totals, documents by status) and the model catalogue's CRUD."""
