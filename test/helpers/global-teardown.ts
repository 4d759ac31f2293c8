/** Jest global teardown: stops the dev server started by global-setup.ts (if it started one). */
export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__hookflowTemporalDevServer;
  globalThis.__hookflowTemporalDevServer = undefined;
  await server?.stop();
}
