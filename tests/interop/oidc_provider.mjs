// A real OpenID Provider (panva's oidc-provider, OpenID Certified) for the OIDC tests.
//
// Configured by one JSON document in the OIDC_PROVIDER_CONFIG environment variable:
//   { "jwks": {"keys": [<private JWK>...]},          signing keys (the test generates them)
//     "clients": [<client metadata>...],             registered clients
//     "accounts": {"<id>": {<claims>}},              accounts; the login form takes the id
//     "resources": {"<indicator>": {"scope": "...", "ttl": 600}}   JWT access token audiences
//   }
// Listens on 127.0.0.1 on a free port and prints one JSON line {"issuer", "port"} once ready.
//
// Test-only routes (outside the provider):
//   POST /__test/backchannel-logout   back-channel logout receiver (clients may point there)
//   GET  /__test/logout-tokens        the logout tokens received so far, as a JSON list
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_PROVIDER_CONFIG);

const server = http.createServer();
await new Promise((resolve) => { server.listen(Number(process.env.OIDC_PROVIDER_PORT || 0), '127.0.0.1', resolve); });
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;
const logoutTokens = [];

function account(id) {
  const claims = config.accounts[id];
  if (!claims) return undefined;
  return {
    accountId: id,
    async claims() { return { sub: id, ...claims }; },
  };
}

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    backchannel_logout_uri: `${issuer}/__test/backchannel-logout`,
    backchannel_logout_session_required: true,
    ...client,
  })),
  jwks: config.jwks,
  cookies: { keys: ['communs-test-cookies'] },
  findAccount: async (ctx, id) => account(id),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'usual_name', 'locale'],
    siret: ['siret', 'organization_name'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'siret', 'api'],
  pkce: { required: () => true },
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600,
    Session: 3600, Grant: 3600,
  },
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    introspection: { enabled: true },
    jwtUserinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        const resource = config.resources[indicator];
        if (!resource) throw new errors.InvalidTarget();
        return {
          scope: resource.scope,
          audience: indicator,
          accessTokenFormat: 'jwt',
          accessTokenTTL: resource.ttl ?? 600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // JWT access tokens carry the profile claims (as Keycloak's do), so the API can create the
  // user on first use.
  extraTokenClaims: async (ctx, token) => {
    if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
    const claims = config.accounts[token.accountId];
    if (!claims) return undefined;
    const { email, given_name: givenName, usual_name: usualName, siret } = claims;
    return { email, given_name: givenName, usual_name: usualName, siret };
  },
  // The back-channel receiver lives on this very server (127.0.0.1), which oidc-provider's
  // SSRF protection would refuse.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
});

// Errors go to stderr (a log file the test fixture keeps) to explain a failing flow.
for (const event of ['server_error', 'authorization.error', 'grant.error', 'end_session.error',
  'userinfo.error', 'introspection.error', 'backchannel.error']) {
  provider.on(event, (ctx, error) => {
    const cause = error?.cause ?? error;
    process.stderr.write(`${event}: ${error?.message} ${error?.error_description ?? ''} ${cause?.stack ?? ''}\n`);
  });
}

const handle = provider.callback();

function testRoute(req, res) {
  if (req.method === 'POST' && req.url === '/__test/backchannel-logout') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      logoutTokens.push(new URLSearchParams(body).get('logout_token'));
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end();
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/__test/logout-tokens') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(logoutTokens));
    return;
  }
  res.writeHead(404);
  res.end();
}

server.on('request', (req, res) => {
  if (req.url.startsWith('/__test/')) {
    testRoute(req, res);
  } else {
    handle(req, res);
  }
});

process.on('SIGTERM', () => { server.close(); process.exit(0); });
process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
