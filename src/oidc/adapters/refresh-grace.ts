import type { Adapter, AdapterPayload } from './adapter-factory.js';

/**
 * Wraps the RefreshToken adapter with a per-client grace window: for a few seconds after
 * rotation the old token still works once more, so a client whose refresh response was lost can
 * retry instead of tripping reuse detection (which revokes the grant). Outside the window, and for
 * clients without one (the default), a rotated token is refused as oidc-provider decides.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/lib/actions/grants/refresh_token.js
 */
export function withRefreshGrace(inner: Adapter, graceSeconds: (clientId: string) => Promise<number>, now: () => number = Date.now): Adapter {
  async function withinGrace(payload: AdapterPayload | undefined): Promise<boolean> {
    if (!payload?.consumed || typeof payload.clientId !== 'string') return false;
    const grace = await graceSeconds(payload.clientId);
    return grace > 0 && now() / 1000 - payload.consumed <= grace;
  }

  return {
    ...inner,
    async find(id) {
      const payload = await inner.find(id);
      if (payload && await withinGrace(payload)) {
        const { consumed: _consumed, ...fresh } = payload;
        return fresh as AdapterPayload;
      }
      return payload;
    },
    async consume(id) {
      try {
        await inner.consume(id);
      } catch (error) {
        // Already consumed: fine inside the grace window, a reuse outside it.
        if (!(await withinGrace(await inner.find(id)))) throw error;
      }
    },
  };
}
