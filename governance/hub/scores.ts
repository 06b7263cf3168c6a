import type { Clock } from '../clock.ts';
import { snapshotJs } from '../snapshotProtocol.ts';
import type { HubStore } from './store.ts';

/**
 * Seconds after `end` before final scores are computed (snapshot-sequencer `src/scores.ts`,
 * `FINALIZE_SCORE_SECONDS_DELAY`): time for votes still in flight at the end to land.
 */
export const FINALIZE_SCORE_SECONDS_DELAY = 60;

/** Above this many votes, scores computed in the last 5 minutes are not computed again (the real sequencer's rule). */
const BUSY_PROPOSAL_VOTES = 20_000;
const BUSY_PROPOSAL_SECONDS = 300;

/**
 * What `GET /scores/{id}` answers, always with HTTP 200 (snapshot-sequencer `src/api.ts`): `{result: true}`
 * once the scores were (re)computed or were already final, `{result: false}` for an unknown id, a proposal that
 * has not started, or a busy proposal; `{error: 'failed', message}` when computing failed (`message` is the
 * error as JSON, `{}` for an Error).
 */
export type ScoresReply = { result: boolean } | { error: 'failed'; message: unknown };

export type ScoresOptions = {
  store: HubStore;
  clock: Clock;
  /**
   * Waits `ms` milliseconds: the hold before computing final scores less than 60 s after `end`. The real
   * sequencer sleeps; tests pass one that moves their clock instead.
   */
  sleep: (ms: number) => Promise<void>;
  /** Told about failures (answered as `{error: 'failed'}`). */
  onError?: (error: unknown) => void;
};

/** `proposal.state` as the real hub computes it: active once `now > start`, closed once `now > end`. */
export function proposalState(row: { start: number; end: number }, now: number) {
  return now > row.end ? 'closed' : now > row.start ? 'active' : 'pending';
}

/**
 * Final scores on request, as snapshot-sequencer does them (`updateProposalAndVotes` in `src/scores.ts`): the
 * GraphQL copy keeps `scores_state: pending` after the end until someone requests `GET /scores/{id}` (the hub's
 * `/api/scores/{id}` redirects there). A request less than 60 s after the end is held until 60 s after it,
 * then answered; scores are computed with snapshot.js' voting class over the stored votes. Requests for the
 * same proposal while one is running share its answer (the sequencer's request deduplicator).
 */
export function createScores(options: ScoresOptions) {
  const { store, clock, sleep } = options;
  const ongoing = new Map<string, Promise<boolean>>();

  async function updateProposalAndVotes(id: string): Promise<boolean> {
    const row = store.getProposal(id);
    if (!row) return false;
    const now = await clock();
    const state = proposalState(row, now);
    if (state === 'pending') return false;
    if (row.scores_state === 'final') return true;
    if (row.end <= now) {
      const wait = Math.max(FINALIZE_SCORE_SECONDS_DELAY - (now - row.end), 0);
      if (wait > 0) await sleep(wait * 1000);
    }
    if (row.votes > BUSY_PROPOSAL_VOTES && row.scores_updated > now - BUSY_PROPOSAL_SECONDS) return false;

    const updated = await clock();
    // From reading the votes to writing the scores nothing awaits: no vote lands in between.
    const votes = store.allVotes(id).map((vote) => {
      const scores = JSON.parse(vote.vp_by_strategy) as number[];
      return {
        id: vote.id,
        voter: vote.voter,
        choice: JSON.parse(vote.choice) as unknown,
        vp: vote.vp,
        vp_by_strategy: scores,
        vp_state: vote.vp_state,
        balance: vote.vp,
        scores,
      };
    });
    const strategies = JSON.parse(row.strategies) as unknown[];
    const proposal = {
      id: row.id,
      type: row.type,
      choices: JSON.parse(row.choices) as string[],
      start: row.start,
      end: row.end,
      privacy: row.privacy,
      strategies,
      state,
    };
    const Voting = snapshotJs.utils.voting[row.type as keyof typeof snapshotJs.utils.voting];
    const voting = new Voting(proposal as never, votes as never, strategies as never, undefined as never);
    store.storeScores(id, {
      scoresState: state === 'closed' ? 'final' : 'pending',
      scores: voting.getScores() as number[],
      scoresByStrategy: voting.getScoresByStrategy() as number[][],
      scoresTotal: voting.getScoresTotal() as number,
      updated,
      votes: votes.length,
    });
    return true;
  }

  return {
    updateProposalAndVotes,
    /** The reply of `GET /scores/{id}` (HTTP 200). */
    async request(id: string): Promise<ScoresReply> {
      let running = ongoing.get(id);
      if (!running) {
        running = updateProposalAndVotes(id).finally(() => ongoing.delete(id));
        ongoing.set(id, running);
      }
      try {
        return { result: await running };
      } catch (error) {
        options.onError?.(error);
        return { error: 'failed', message: asJson(error) };
      }
    },
  };
}

/** The error as Express' `res.json` writes it: its own enumerable properties (an Error alone is `{}`). */
function asJson(error: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(error ?? null)) ?? null;
  } catch {
    return {};
  }
}

export type Scores = ReturnType<typeof createScores>;

/**
 * A `sleep` for the hold that `abort()` ends early (rejecting): a hub that stops does not wait a minute for a
 * held request.
 */
export function abortableSleep() {
  const controller = new AbortController();
  return {
    sleep: (ms: number) =>
      new Promise<void>((resolve, reject) => {
        if (controller.signal.aborted) return reject(new Error('the hub is stopping'));
        const timer = setTimeout(() => {
          controller.signal.removeEventListener('abort', stop);
          resolve();
        }, ms);
        const stop = () => {
          clearTimeout(timer);
          reject(new Error('the hub is stopping'));
        };
        controller.signal.addEventListener('abort', stop, { once: true });
      }),
    abort: () => controller.abort(),
  };
}
