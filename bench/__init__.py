"""`python -m bench` (or `make bench`): every layer measured against its floor in the same run."""
