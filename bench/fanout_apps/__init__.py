"""Apps for bench/fanout.py: one SSE stream per client, fed by an in-process fan-out."""
