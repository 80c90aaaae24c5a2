"""The health watch (docs/watch.md): probe each watched site on each of its hosts, tell what is
wrong (classify), count bad probes in a row per host and kind (streaks), open, update and close
incidents in the store, and say which narrow restart would help (offers). No I/O here: probes run
through the Executor port, incidents live behind the IncidentStore port."""
