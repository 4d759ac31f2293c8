import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import {
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Services } from '../services';
import { authenticate } from '../services/api-keys';
import { createContext, keyFromConnection, keyFromRequest, type GraphqlContext } from './context';
import { createFormatError, formatErrors, type GraphqlLogger } from './errors';
import { queryLimitsRule, type QueryLimits } from './limits';
import { buildGraphqlSchema } from './schema-build';

export const GRAPHQL_PATH = '/graphql';
const MAX_BODY = '1mb';
const MAX_WS_MESSAGE_BYTES = 1024 * 1024;

export type MountGraphqlArgs = {
  app: express.Express;
  httpServer: http.Server;
  services: Services;
  log: GraphqlLogger;
  /** Overrides of the depth/cost/alias limits (DEFAULT_QUERY_LIMITS). */
  limits?: Partial<QueryLimits>;
};

export type MountedGraphql = { schema: GraphQLSchema; stop(): Promise<void> };

/**
 * Mounts the GraphQL API on `/graphql`: Apollo Server over HTTP (POST/GET) and graphql-ws subscriptions on the
 * same path of the same HTTP server. The caller owns the HTTP server; stop() closes the WebSocket connections
 * and Apollo (call it before closing the HTTP server, whose close() waits for open WebSocket connections).
 */
export async function mountGraphql(args: MountGraphqlArgs): Promise<MountedGraphql> {
  const { app, httpServer, services, log } = args;
  const schema = await buildGraphqlSchema(services);
  const formatError = createFormatError(log);
  const validationRules: ValidationRule[] = [queryLimitsRule(args.limits)];

  // --- HTTP (Apollo) -------------------------------------------------------------------------------------
  const apollo = new ApolloServer<GraphqlContext>({
    schema,
    // On in every mode, for every role: each request is authenticated before it runs, and the schema is public
    // (schema.graphql in the repository), so hiding it would only break tooling (see the README).
    introspection: true,
    validationRules,
    formatError,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    logger: {
      debug: () => undefined,
      info: (msg) => log.info({ component: 'apollo' }, String(msg)),
      warn: (msg) => log.warn({ component: 'apollo' }, String(msg)),
      error: (msg) => log.error({ component: 'apollo' }, String(msg)),
    },
  });
  await apollo.start();

  const router = express.Router();
  router.use(express.json({ limit: MAX_BODY }));
  router.use(
    expressMiddleware(apollo, { context: ({ req }) => createContext(services, keyFromRequest(req)) }),
  );
  // Body-parser failures (too large, malformed JSON) answered as GraphQL errors instead of an HTML page.
  router.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    if (res.headersSent || typeof e?.status !== 'number' || e.status >= 500) return next(err);
    const code = e.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
    const message =
      e.status === 413 ? `the request body is larger than ${MAX_BODY}` : (e.message ?? 'bad request');
    res.status(e.status).json({ errors: [{ message, extensions: { code } }] });
  });
  app.use(GRAPHQL_PATH, router);

  // --- WebSocket (graphql-ws) ----------------------------------------------------------------------------
  // noServer + our own upgrade listener: only /graphql upgrades are taken, so other WebSocket endpoints
  // on the same HTTP server keep working (ws's `path` option answers 400 to every other path).
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE_BYTES });
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? '').split('?')[0];
    if (pathname === GRAPHQL_PATH) {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } else if (httpServer.listenerCount('upgrade') === 1) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  };
  httpServer.on('upgrade', onUpgrade);

  const rules = [...specifiedRules, ...validationRules];
  const keys = new WeakMap<object, string>();

  const disposable = useServer<Record<string, unknown>>(
    {
      schema,
      // Reject the connection itself for a missing/unknown/revoked key: 4401 "Unauthorized" (not retried by clients).
      onConnect: async (ctx) => {
        const key = keyFromConnection(ctx.connectionParams, ctx.extra.request);
        const scope = key ? await authenticate(services.db.em(), key) : undefined;
        if (!key || !scope) {
          ctx.extra.socket.close(4401, 'Unauthorized');
          return false;
        }
        keys.set(ctx, key);
        return true;
      },
      // Parse, validate (same limits as HTTP) and authenticate again per operation, so a revoked key stops
      // starting operations on an open connection.
      onSubscribe: async (ctx, _id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> => {
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (err) {
          const e = err as GraphQLError;
          return [
            new GraphQLError(e.message, {
              source: e.source,
              positions: e.positions,
              extensions: { code: 'GRAPHQL_PARSE_FAILED' },
            }),
          ];
        }
        const errors = validate(schema, document, rules);
        if (errors.length) {
          return errors.map(
            (e) =>
              new GraphQLError(e.message, {
                nodes: e.nodes,
                originalError: e.originalError,
                extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' },
              }),
          );
        }
        let contextValue: GraphqlContext;
        try {
          contextValue = await createContext(services, keys.get(ctx));
        } catch (err) {
          if (err instanceof GraphQLError) return [err];
          throw err;
        }
        return {
          schema,
          document,
          operationName: payload.operationName ?? undefined,
          variableValues: payload.variables ?? undefined,
          contextValue,
        };
      },
      onError: (_ctx, _id, _payload, errors) => formatErrors(formatError, errors),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors?.length ? { ...result, errors: formatErrors(formatError, result.errors) } : undefined,
    },
    wss,
  );

  let stopped: Promise<void> | undefined;
  return {
    schema,
    stop() {
      stopped ??= (async () => {
        httpServer.off('upgrade', onUpgrade);
        await disposable.dispose();
        await apollo.stop();
      })();
      return stopped;
    },
  };
}
