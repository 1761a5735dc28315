// Link-layer control of stations (draft 3.2.4: on a DAD-failure revocation the AN
// detaches the MN). The hostapd control-socket backend comes with its own issue;
// until then `ReportingStationControl` carries no link action and says so, so the
// operator sees every detach the protocol asked for.

export type DetachReason = "dad-failure";

export interface StationControl {
  /** Disconnect the station (deauthenticate on Wi-Fi, port down on a wired port). */
  detach(mac: string, reason: DetachReason): void;
  close(): void;
}

/** A station control without a link layer to act on: it reports what it was asked. */
export class ReportingStationControl implements StationControl {
  constructor(private readonly report: (mac: string, reason: DetachReason, performed: false) => void) {}

  detach(mac: string, reason: DetachReason): void {
    this.report(mac, reason, false);
  }

  close(): void {}
}
