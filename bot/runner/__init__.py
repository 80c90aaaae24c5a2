"""Runner processes: each restart runs to its end in a process of its own, apart from the front end
that took it (bot/runner/processes.py starts and follows them; bot/runner/worker.py is what runs
inside). The front end keeps answering people while a rollout's host threads work elsewhere, and a
restart that has started is recorded to the end whatever happens to the front end's process."""
