// Every drop and refusal is counted by cause, so an operator can tell a flood from
// a misconfiguration without turning logging up.
export function newEngineCounters() {
  return {
    framesFromMn: 0,
    framesNotIpv6: 0,
    framesMalformed: 0,
    framesUnknownMnNonTrigger: 0,
    /** Issue 9 item 5: MLD reports from unknown stations (a Linux MN's first frames): normal. */
    framesUnknownMnMld: 0,
    framesDroppedNoService: 0,
    framesDroppedDeregistering: 0,
    framesHeld: 0,
    framesHeldReleased: 0,
    holdDropPerMnFrames: 0,
    holdDropPerMnBytes: 0,
    holdDropTotalFrames: 0,
    holdDropTotalBytes: 0,
    framesToTunnel: 0,
    packetsFromTunnel: 0,
    downlinkHeld: 0,
    downlinkHoldDropped: 0,
    packetsFromTunnelUnmatched: 0,
    packetsFromTunnelWrongSource: 0,
    packetsFromTunnelMalformed: 0,
    framesToMn: 0,
    routerAdvertisementsSeen: 0,
    sessionsStarted: 0,
    sessionsReleased: 0,
    refusedSessionCap: 0,
    refusedCoaExhausted: 0,
    refusedNoRealm: 0,
    refusedHoldOff: 0,
    refusedNaiInUse: 0,
    refusedStartRate: 0,
    /** Starts the rate turned away that wait their turn (start-queue.ts), started later, or dropped after START_QUEUE_SECONDS. */
    startsQueued: 0,
    startsDequeued: 0,
    startQueueExpired: 0,
    refusedNaiTooLong: 0,
    /** the resolver chain (identityOrder) found no NAI */
    refusedNoIdentity: 0,
    /** no key for the NAI in the key table and its realm's key not allowed */
    refusedNoKey: 0,
    /** frames from a station the link layer has not authorised (linkLayer.requireAuthorised) */
    framesUnauthorised: 0,
    framesBadSourceMac: 0,
    requestsSent: 0,
    retransmissions: 0,
    repliesReceived: 0,
    repliesMalformed: 0,
    repliesUnmatched: 0,
    repliesForged: 0,
    repliesAccepted: 0,
    repliesDenied: 0,
    identificationResyncs: 0,
    registrationTimeouts: 0,
    noService: 0,
    refreshes: 0,
    expiries: 0,
    revocationsReceived: 0,
    revocationsMalformed: 0,
    revocationsForged: 0,
    revocationsUnmatched: 0,
    revocationsReplayed: 0,
    acknowledgementsSent: 0,
    acknowledgementsResent: 0,
    dadFailureDetaches: 0,
    /** Issue 9 items 1-4. */
    dadFailuresRevocationFirst: 0,
    revokedLingerDelivered: 0,
    entryHoldOffs: 0,
    refusedEntryHoldOff: 0,
    refusedRevocationLinger: 0,
    bindingsLapsed: 0,
    stationsLeft: 0,
    idleTimeouts: 0,
    signallingMalformed: 0,
    signallingUnexpectedType: 0,
    deregistrationsSent: 0,
    contextsImported: 0,
    contextsRejected: 0,
    /** Resumed sessions (restart) dropped before their refresh: another AN bound the MN meanwhile (resume-checked). */
    resumesSuperseded: 0,
    /** Issue 10: forwarding on handover (handover-forward.ts). Old AN: */
    forwardWindowsOpened: 0,
    framesForwardedToPeer: 0,
    forwardEntriesDropped: 0,
    /** ...delivered here instead: the MN came back within the window (A -> B -> A). */
    forwardReturnedToMn: 0,
    /** Hand-overs naming another CoA than the MN's session here (a newer one: the MN came back): not released. */
    releasesNotOurs: 0,
    /** New AN: */
    acceptWindowsOpened: 0,
    /** Accept windows not opened: the table (limits.maxSessions windows) was full of live ones. */
    acceptWindowsRefused: 0,
    framesForwardedFromPeer: 0,
    /**
     * Old AN, after a link-layer leave (leave-hold.ts): windows opened; how they ended
     * (the release took the held frames, the MN came back, nothing came, the HA revoked
     * meanwhile, the session ended otherwise); downlink frames held, forwarded, delivered, dropped at the end, and
     * refused by a hold cap.
     */
    leaveHolds: 0,
    leaveHoldsForwarded: 0,
    leaveHoldsReturned: 0,
    leaveHoldsExpired: 0,
    leaveHoldsRevoked: 0,
    leaveHoldsEnded: 0,
    framesLeaveHeld: 0,
    framesLeaveHeldForwarded: 0,
    framesLeaveHeldDelivered: 0,
    framesLeaveHeldDropped: 0,
    leaveHoldDropPerMnFrames: 0,
    leaveHoldDropPerMnBytes: 0,
    leaveHoldDropTotalFrames: 0,
    leaveHoldDropTotalBytes: 0,

    // Issue 10 (registrations by code, round trips and the interruption histogram:
    // registration-stats.ts, handover-stats.ts).
    /** Sessions started from another AN's context (import-context, resume false). */
    handoversIn: 0,
    /** Sessions released because another AN took the MN over (the hand-over input). */
    handoversOut: 0,
  };
}

export type EngineCounters = ReturnType<typeof newEngineCounters>;
