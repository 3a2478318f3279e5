"""The offline runtime: the whole platform on one machine, from template.yaml, with moto and no Docker."""
