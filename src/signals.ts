import { constants } from 'node:os';

/**
 * Turns SIGINT and SIGTERM into a graceful stop, and a third press into an immediate one.
 *
 * Ctrl-C in a terminal signals the whole foreground process group: `npm start` and the server both
 * get SIGINT, and npm then forwards its own copy to the server, so one key press arrives as two
 * signals a few milliseconds apart (SIGTERM sent to the group does the same). Signals closer than
 * PRESS_GAP_MS are therefore one press. The first press starts the drain; a second one during the
 * drain does not cut it short (it says how to); a third stops at once.
 */
export function onStopSignals({
  drain,
  remind,
  force,
}: {
  drain(signal: NodeJS.Signals): void;
  /** Says, on a second press, that the drain goes on and how to stop at once. */
  remind(message: string): void;
  force(signal: NodeJS.Signals): void;
}): void {
  let presses = 0;
  let lastSignalAt = Number.NEGATIVE_INFINITY;
  const onSignal = (signal: NodeJS.Signals) => {
    const now = performance.now();
    const samePress = now - lastSignalAt < PRESS_GAP_MS;
    lastSignalAt = now;
    if (samePress) return;
    presses += 1;
    if (presses === 1) drain(signal);
    else if (presses === 2) remind(`${signal} again: still stopping gracefully. Press Ctrl-C once more (or send SIGKILL) to stop at once.`);
    else force(signal);
  };
  // `on`, not `once`: with no handler left, a repeated signal would kill the process mid-drain.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

const PRESS_GAP_MS = 200;

/** The exit code of a process ended by `signal`, by the shells' convention: 128 + its number. */
export const signalExitCode = (signal: NodeJS.Signals): number => 128 + constants.signals[signal];
