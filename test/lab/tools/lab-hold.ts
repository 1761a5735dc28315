// Builds a lab topology, prints its namespaces as one JSON line and waits: the
// topology test kills it with SIGINT / SIGTERM to prove the lab cleans up after a
// Ctrl-C (test/support/netns.ts installs the handlers).
import { Topology } from "../topology.ts";

const t = Topology.create({ label: process.argv[2] ?? "labhold", mns: 1 });
process.stdout.write(`${JSON.stringify({ namespaces: t.namespaces })}\n`);
setInterval(() => undefined, 60_000);
