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

/**
 * What Express answers (NODE_ENV=production) when its JSON body parser fails: the sequencer runs
 * `express.json()` before any of its own code, so a body that is not JSON never gets a JSON refusal.
 */
const BAD_REQUEST_PAGE =
  '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Bad Request</pre>\n</body>\n</html>\n';

const badRequestPage = (): HubReply => ({
  status: 400,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'",
    'x-content-type-options': 'nosniff',
    ...CORS,
  },
  body: BAD_REQUEST_PAGE,
});

/**
 * The body as the sequencer's `express.json()` leaves it: parsed when the type is application/json (strict: an
 * object or array), `{}` when the body is empty or of another type, or 'invalid' (→ 400 page).
 */
function parseMessageBody(contentType: string | null, text: string): unknown | 'invalid' {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json' || text.trim() === '') return {};
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return 'invalid';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return 'invalid';
  }
}

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
      const body = parseMessageBody(request.contentType, request.body);
      if (body === 'invalid') return badRequestPage();
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
