import type { JSONWebKeySet } from 'jose';
import { benchApi, type Seeded } from './environment.js';
import { proxyHeaders, tokenRequest, type Target } from './flows.js';
import { basicAuth, type HttpClient } from './http-client.js';
import type { BenchRequest, LoaderJob } from './loader.js';

/** A system under load: Portcullis, or the bare oidc-provider ceiling. */
export interface System {
  target: Target;
  /** An opaque access token for an account with scope `openid email profile`, fresh. */
  userinfoToken(): Promise<string>;
}

export interface LoadSettings {
  connections: number;
  loginVus: number;
  refreshVus: number;
  /** Virtual users of paced (half-peak) HTTP runs; they mostly wait for their slot. */
  pacedConcurrency: number;
}

export interface PreparedScenario {
  /** Flat out: the peak throughput. */
  peak(durationMs: number): LoaderJob;
  /** Evenly paced at `rate` per second: latency at that load. */
  paced(durationMs: number, rate: number): LoaderJob;
}

export interface Scenario {
  id: string;
  title: string;
  /** What one iteration is. */
  unit: string;
  /** Which ceiling bounds it: the bare oidc-provider (same requests) or raw argon2id hashing. */
  ceiling?: 'provider' | 'hash';
  /** Issue 7's targets. */
  minThroughput?: number;
  minRatio?: number;
  prepare(system: System, context: ScenarioContext): Promise<PreparedScenario>;
}

export interface ScenarioContext { http: HttpClient; seeded: Seeded; jwks: JSONWebKeySet; load: LoadSettings }

const clientIp = '203.0.113.10';

function form(system: System, auth: string, path: string, body: Record<string, string>): BenchRequest {
  return {
    method: 'POST', path, body: new URLSearchParams(body).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, ...proxyHeaders(system.target, clientIp) },
  };
}

/** Sends each request once to each instance and checks the answer before any load: a broken setup fails loudly, early. */
async function checked(system: System, context: ScenarioContext, requests: BenchRequest[], check: (body: string, request: BenchRequest) => string | undefined = () => undefined) {
  for (const origin of system.target.origins) {
    for (const request of requests) {
      const response = await context.http.request(new URL(request.path, origin), request);
      const problem = response.status < 200 || response.status >= 300 ? `HTTP ${response.status}: ${response.body.slice(0, 300)}` : check(response.body, request);
      if (problem) throw new Error(`${request.method} ${origin}${request.path}: ${problem}`);
    }
  }
  return requests;
}

/** A scenario of single HTTP requests: autocannon at peak, the paced loader at half of it. */
function httpScenario(system: System, context: ScenarioContext, requests: BenchRequest[]): PreparedScenario {
  const { origins } = system.target;
  return {
    peak: (durationMs) => ({ type: 'autocannon', origins, requests, connections: context.load.connections, durationMs }),
    paced: (durationMs, rate) => ({ type: 'paced-http', origins, requests, concurrency: context.load.pacedConcurrency, durationMs, rate }),
  };
}

const isJwt = (token: unknown) => typeof token === 'string' && token.split('.').length === 3;

export const scenarios: Scenario[] = [
  {
    id: 'client-credentials-opaque', title: 'Client credentials, opaque token', unit: 'req/s', ceiling: 'provider', minThroughput: 2000, minRatio: 0.8,
    async prepare(system, context) {
      const { service } = context.seeded;
      const requests = [form(system, basicAuth(service.clientId, service.secret), '/token', { grant_type: 'client_credentials' })];
      return httpScenario(system, context, await checked(system, context, requests, (body) => (isJwt(JSON.parse(body).access_token) ? 'expected an opaque token' : undefined)));
    },
  },
  {
    id: 'client-credentials-jwt', title: 'Client credentials, JWT for an API', unit: 'req/s', ceiling: 'provider', minThroughput: 2000, minRatio: 0.8,
    async prepare(system, context) {
      const { service } = context.seeded;
      const requests = [form(system, basicAuth(service.clientId, service.secret), '/token', { grant_type: 'client_credentials', resource: benchApi, scope: 'read' })];
      return httpScenario(system, context, await checked(system, context, requests, (body) => (isJwt(JSON.parse(body).access_token) ? undefined : 'expected a JWT access token')));
    },
  },
  {
    id: 'login', title: 'Password sign-in, whole flow', unit: 'flows/s', ceiling: 'hash', minRatio: 0.8,
    async prepare(system, context) {
      const base = { target: system.target, client: context.seeded.web, accounts: context.seeded.accounts, jwks: context.jwks, concurrency: context.load.loginVus };
      return {
        peak: (durationMs) => ({ type: 'login', ...base, durationMs }),
        paced: (durationMs, rate) => ({ type: 'login', ...base, durationMs, rate }),
      };
    },
  },
  {
    id: 'refresh', title: 'Refresh-token rotation', unit: 'req/s', minThroughput: 1000,
    async prepare(system, context) {
      const base = { target: system.target, client: context.seeded.web, accounts: context.seeded.accounts, jwks: context.jwks, concurrency: context.load.refreshVus };
      return {
        peak: (durationMs) => ({ type: 'refresh', ...base, durationMs }),
        paced: (durationMs, rate) => ({ type: 'refresh', ...base, durationMs, rate }),
      };
    },
  },
  {
    id: 'introspection', title: 'Introspection, opaque token', unit: 'req/s', ceiling: 'provider', minThroughput: 4000,
    async prepare(system, context) {
      const { service } = context.seeded;
      const { access_token: token } = await tokenRequest(context.http, system.target, service, { grant_type: 'client_credentials' });
      const requests = [form(system, basicAuth(service.clientId, service.secret), '/token/introspection', { token: token! })];
      return httpScenario(system, context, await checked(system, context, requests, (body) => (JSON.parse(body).active === true ? undefined : `not active: ${body}`)));
    },
  },
  {
    id: 'userinfo', title: 'UserInfo', unit: 'req/s', ceiling: 'provider',
    async prepare(system, context) {
      const token = await system.userinfoToken();
      const requests: BenchRequest[] = [{ method: 'GET', path: '/me', headers: { authorization: `Bearer ${token}`, ...proxyHeaders(system.target, clientIp) } }];
      return httpScenario(system, context, await checked(system, context, requests, (body) => (JSON.parse(body).email ? undefined : `no email claim: ${body}`)));
    },
  },
  {
    id: 'discovery-jwks', title: 'Discovery + JWKS (alternating)', unit: 'req/s', ceiling: 'provider',
    async prepare(system, context) {
      const headers = proxyHeaders(system.target, clientIp);
      const requests: BenchRequest[] = [{ method: 'GET', path: '/.well-known/openid-configuration', headers }, { method: 'GET', path: '/jwks', headers }];
      return httpScenario(system, context, await checked(system, context, requests));
    },
  },
];
