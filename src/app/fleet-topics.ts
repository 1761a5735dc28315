// The fleet's MQTT topic scheme (README "The fleet over MQTT"). Per-AN and per-MN
// topics only: nothing on the hot path fans out fleet-wide, so the load shards on
// any broker or cluster.
export interface FleetTopics {
  readonly status: string;
  readonly config: string;
  readonly ack: string;
  readonly telemetry: string;
  readonly events: string;
  readonly rpc: string;
  group(g: string): string;
  context(mac: string): string;
}

/** MAC "aa:bb:cc:dd:ee:ff" as its topic level "aabbccddeeff" (no ':' in topic levels or ACL patterns). */
export function macLevel(mac: string): string {
  return mac.toLowerCase().replace(/[^0-9a-f]/g, "");
}

export function fleetTopics(prefix: string, nodeId: string): FleetTopics {
  const an = `${prefix}/an/${nodeId}`;
  return {
    status: `${an}/status`,
    config: `${an}/config`,
    ack: `${an}/config/ack`,
    telemetry: `${an}/telemetry`,
    events: `${an}/events`,
    rpc: `${an}/rpc`,
    group: (g) => `${prefix}/group/${g}/config`,
    context: (mac) => `${prefix}/ctx/${macLevel(mac)}`,
  };
}
