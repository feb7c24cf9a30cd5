"""The seeded simulation (`mycrypto simulate`, docs/simulation.md): a deterministic driver that runs
simulated users through random operations against the real services and database, injects faults and
checks the invariants. Like apps.py and cli.py it assembles the services (in process, without HTTP),
so the import rules treat it as a composition root."""
