import type { createHubGraphql } from './graphql.ts';
import type { Scores } from './scores.ts';
import type { Sequencer } from './sequencer.ts';

/** One request as the routes see it: the HTTP hub and the in-memory hub build it, each from its transport. */
export type HubRequest = {
  method: string;
  url: URL;
  /** The Content-Type header, if any. */
  contentType: string | null;
  /** The body as text; undefined when it was over the hub's size limit. */
  body: string | undefined;
};

export type HubReply = { status: number; headers: Record<string, string>; body: string };

const CORS = { 'access-control-allow-origin': '*' };

const json = (status: number, body: unknown): HubReply => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', ...CORS },
  body: JSON.stringify(body),
});

/** The id in `/scores/{id}` (Express decodes the parameter); undefined when it cannot be decoded. */
function scoresId(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * The hub's endpoints, the same for the HTTP hub and the in-memory one: one Snapshot hub and its sequencer.
 * - `POST /`: messages (the sequencer, seq.snapshot.org).
 * - `GET|POST /graphql`: reads (hub.snapshot.org/graphql).
 * - `GET /api/scores/{id}`: HTTP 307 to `/scores/{id}`, as hub.snapshot.org redirects to the sequencer.
 * - `GET /scores/{id}`: asks for final scores (`{result: boolean}`, HTTP 200; see scores.ts).
 * - `GET /`: what this hub is.
 */
export function createHubRoutes(options: {
  sequencer: Sequencer;
  graphql: ReturnType<typeof createHubGraphql>;
  scores: Scores;
  info: () => unknown;
}) {
  const { sequencer, graphql, scores } = options;

  return async function route(request: HubRequest): Promise<HubReply> {
    const { method, url } = request;
    if (method === 'OPTIONS') {
      return {
        status: 204,
        headers: {
          ...CORS,
          'access-control-allow-headers': 'content-type, accept',
          'access-control-allow-methods': 'GET, POST, OPTIONS',
        },
        body: '',
      };
    }
    if (url.pathname === '/graphql') {
      let body: { query?: unknown; variables?: unknown; operationName?: unknown };
      if (method === 'GET') {
        const variables = url.searchParams.get('variables');
        let parsedVariables: unknown;
        try {
          parsedVariables = variables ? JSON.parse(variables) : undefined;
        } catch {
          return json(400, { errors: [{ message: 'variables must be JSON' }] });
        }
        body = {
          query: url.searchParams.get('query') ?? undefined,
          variables: parsedVariables,
          operationName: url.searchParams.get('operationName') ?? undefined,
        };
      } else if (method === 'POST') {
        try {
          body = JSON.parse(request.body ?? '');
        } catch {
          return json(400, { errors: [{ message: 'POST body must be JSON: {"query": "..."}' }] });
        }
      } else {
        return json(405, { errors: [{ message: 'use GET or POST' }] });
      }
      const result = await graphql.run(body ?? {});
      return json(result.status, result.body);
    }
    if (url.pathname === '/' && method === 'POST') {
      if (request.body === undefined) {
        return json(400, { error: 'client_error', error_description: 'too large message' });
      }
      let body: unknown;
      try {
        body = JSON.parse(request.body);
      } catch {
        body = undefined; // refused as 'wrong envelope format'
      }
      const reply = await sequencer.ingest(body);
      return json(reply.status, reply.body);
    }
    if (method === 'GET') {
      const redirect = /^\/api\/scores\/([^/]+)\/?$/.exec(url.pathname);
      if (redirect) {
        const location = `/scores/${redirect[1]}`;
        return {
          status: 307,
          headers: { location, 'content-type': 'text/plain; charset=utf-8', ...CORS },
          body: `Temporary Redirect. Redirecting to ${location}`,
        };
      }
      const match = /^\/scores\/([^/]+)\/?$/.exec(url.pathname);
      if (match) {
        const id = scoresId(match[1] ?? '');
        if (id === undefined) return json(400, { error: 'client_error', error_description: 'bad id' });
        return json(200, await scores.request(id));
      }
      if (url.pathname === '/') return json(200, options.info());
    }
    return json(404, { error: 'not_found', error_description: 'not found' });
  };
}

export type HubRoutes = ReturnType<typeof createHubRoutes>;
