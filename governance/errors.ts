import { TreasuryError } from '../shared/errors.ts';

/** A governance action failed on the client side: a hub refused a message, replied with nonsense or could not be reached. */
export class GovernanceError extends TreasuryError {
  override name = 'GovernanceError';
}

/**
 * A message refused by the hub (local or hub.snapshot.org), with the hub's own words.
 * `status` is the HTTP status; `description` the hub's `error_description` (e.g. `duplicate message`).
 */
export class HubRejectedError extends GovernanceError {
  override name = 'HubRejectedError';
  readonly status: number;
  readonly error: string;
  readonly description: string;

  constructor(
    status: number,
    error: string,
    description: string,
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super(`the Snapshot hub refused the message: ${description} (HTTP ${status})`, options);
    this.status = status;
    this.error = error;
    this.description = description;
  }
}

/** The local hub could not start, read its spaces file, or reach its chain. */
export class HubError extends TreasuryError {
  override name = 'HubError';
}
