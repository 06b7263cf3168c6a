/**
 * The clients of `npm run bench:hub`, in their own process (forked by bench/hub.ts): the vote load generator and
 * the GraphQL readers. Nothing here shares the hub's event loop or its process's CPU time. Driven over the IPC
 * channel: each request is answered once, with what this process measured itself.
 */

export type ClientRequest =
  | { type: 'votes'; url: string; envelopes: string[]; concurrency: number }
  | { type: 'latency'; url: string; queries: Array<[name: string, bodies: string[]]> }
  | { type: 'exit' };

export type ClientReply =
  | { type: 'votes'; accepted: number; failures: Record<string, number>; seconds: number }
  | { type: 'latency'; timings: Array<[name: string, ms: number[]]> }
  | { type: 'error'; message: string };

/** POSTs every envelope with `concurrency` requests in flight; counts the accepted ones and the refusals. */
async function sendVotes(url: string, envelopes: string[], concurrency: number) {
  let next = 0;
  let accepted = 0;
  const failures: Record<string, number> = {};
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < envelopes.length) {
        const body = envelopes[next++]!;
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        const json = (await response.json()) as { error_description?: string };
        if (response.ok) accepted++;
        else {
          const key = json.error_description ?? String(response.status);
          failures[key] = (failures[key] ?? 0) + 1;
        }
      }
    }),
  );
  return { accepted, failures, seconds: (performance.now() - started) / 1000 };
}

/** Each query body in turn, one request at a time; the time of each request in ms. */
async function readLatency(url: string, queries: Array<[string, string[]]>) {
  const timings: Array<[string, number[]]> = [];
  for (const [name, bodies] of queries) {
    const times: number[] = [];
    for (const query of bodies) {
      const q0 = performance.now();
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      const json = (await response.json()) as { errors?: unknown };
      times.push(performance.now() - q0);
      if (json.errors) throw new Error(`${name}: ${JSON.stringify(json.errors)}`);
    }
    timings.push([name, times]);
  }
  return timings;
}

const reply = (message: ClientReply) =>
  new Promise<void>((resolve) => process.send!(message, () => resolve()));

if (!process.send)
  throw new Error('bench/hubClientProcess.ts runs forked by bench/hub.ts (it needs an IPC channel)');
process.on('message', (request: ClientRequest) => {
  const handle = async () => {
    try {
      if (request.type === 'exit') process.disconnect();
      else if (request.type === 'votes')
        await reply({
          type: 'votes',
          ...(await sendVotes(request.url, request.envelopes, request.concurrency)),
        });
      else await reply({ type: 'latency', timings: await readLatency(request.url, request.queries) });
    } catch (error) {
      await reply({ type: 'error', message: (error as Error).message });
    }
  };
  void handle();
});
